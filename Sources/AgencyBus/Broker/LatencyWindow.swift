/// Accept → deliver latencies: the last few thousand samples for percentiles over a sliding
/// window, and a cumulative histogram for Prometheus. Pure value; O(1) per sample.
public struct LatencyWindow: Sendable {
    /// Upper bounds (seconds) of the histogram buckets. Deliveries to a node that was offline
    /// take hours, so the buckets reach a day.
    public static let bucketBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
                                                300, 900, 3600, 14_400, 86_400]

    /// Percentiles cover samples at most this old...
    public let windowMilliseconds: Int64
    /// ...and at most this many (the oldest are overwritten).
    public let capacity: Int

    private var ring: [(at: Int64, ms: Int64)] = []
    private var next = 0
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    private var buckets: [Int]
    public private(set) var count = 0
    public private(set) var sumMilliseconds: Int64 = 0

    public init(windowMilliseconds: Int64 = 300_000, capacity: Int = 10_000) {
        self.windowMilliseconds = windowMilliseconds
        self.capacity = max(1, capacity)
        buckets = Array(repeating: 0, count: Self.bucketBounds.count + 1)
    }

    /// Records one delivery that took `ms` (negative values, from clock steps, count as 0).
    public mutating func add(ms raw: Int64, at: Int64) {
        let ms = max(0, raw)
        if ring.count < capacity { ring.append((at, ms)) } else { ring[next] = (at, ms) }
        next = (next + 1) % capacity
        let seconds = Double(ms) / 1000
        let slot = Self.bucketBounds.firstIndex { seconds <= $0 } ?? Self.bucketBounds.count
        buckets[slot] += 1
        count += 1
        sumMilliseconds += ms
    }

    /// Percentiles over the samples of the window ending at `now`.
    public struct Percentiles: Sendable, Equatable {
        public let samples: Int
        public let p50: Int64?
        public let p95: Int64?
        public let p99: Int64?
    }

    /// Nearest-rank percentiles (ms) of the samples no older than the window at `now`.
    public func percentiles(now: Int64) -> Percentiles {
        let recent = ring.filter { now - $0.at <= windowMilliseconds }.map(\.ms).sorted()
        func rank(_ p: Double) -> Int64? {
            guard !recent.isEmpty else { return nil }
            let index = Int((p * Double(recent.count)).rounded(.up)) - 1
            return recent[min(max(index, 0), recent.count - 1)]
        }
        return Percentiles(samples: recent.count, p50: rank(0.50), p95: rank(0.95), p99: rank(0.99))
    }

    /// Cumulative counts per upper bound, ending with +Inf (= `count`), as Prometheus wants.
    public var cumulativeBuckets: [(le: Double, count: Int)] {
        var running = 0
        var out: [(Double, Int)] = []
        for (i, n) in buckets.enumerated() {
            running += n
            out.append((i < Self.bucketBounds.count ? Self.bucketBounds[i] : .infinity, running))
        }
        return out
    }
}
