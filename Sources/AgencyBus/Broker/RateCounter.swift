/// Events per second over the last minute, in one-second slots. Pure value; O(1) per event.
public struct RateCounter: Sendable {
    public static let slots = 60
    private var seconds = Array(repeating: Int64(-1), count: RateCounter.slots)
    private var counts = Array(repeating: 0, count: RateCounter.slots)

    public init() {}

    public mutating func add(at milliseconds: Int64, _ n: Int = 1) {
        let second = milliseconds / 1000
        let i = Int(second % Int64(Self.slots))
        if seconds[i] != second { seconds[i] = second; counts[i] = 0 }
        counts[i] += n
    }

    /// Events in the last `RateCounter.slots` seconds up to `now` (ms).
    public func total(now: Int64) -> Int {
        let current = now / 1000
        var sum = 0
        for i in 0..<Self.slots where seconds[i] > current - Int64(Self.slots) && seconds[i] <= current { sum += counts[i] }
        return sum
    }

    /// Mean rate over the last minute, or over `uptimeMs` when the broker is younger.
    public func perSecond(now: Int64, uptimeMs: Int64) -> Double {
        let span = Double(min(Int64(Self.slots) * 1000, max(1000, uptimeMs))) / 1000
        return Double(total(now: now)) / span
    }
}
