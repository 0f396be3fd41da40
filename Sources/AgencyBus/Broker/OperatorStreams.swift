/// The operator connections that sent `WATCH`: each gets every event and a stats snapshot a
/// second. Pure value; the broker loop does the sends and reports back what failed.
public struct OperatorStreams: Sendable {
    public struct Watcher: Sendable, Equatable {
        public let routingID: [UInt8]
        public let operatorID: String
        public let since: Timestamp
        public var lastSeen: Timestamp
    }

    public private(set) var watchers: [[UInt8]: Watcher] = [:]
    /// A stream not heard from (WATCH or PING) for this long is closed; clients PING every 5 s.
    public let timeoutMilliseconds: Int64
    /// At most this many streams at once; a WATCH beyond it replaces the stalest.
    public let limit: Int

    public init(timeoutMilliseconds: Int64 = 30_000, limit: Int = 64) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.limit = limit
    }

    public var count: Int { watchers.count }
    public var isEmpty: Bool { watchers.isEmpty }

    public func isWatching(_ routingID: [UInt8]) -> Bool { watchers[routingID] != nil }

    /// Starts (or restarts) a stream on this connection.
    public mutating func watch(routingID: [UInt8], operatorID: String, now: Timestamp) {
        if watchers[routingID] == nil, watchers.count >= limit,
           let stalest = watchers.values.min(by: { $0.lastSeen < $1.lastSeen }) {
            watchers[stalest.routingID] = nil
        }
        let since = watchers[routingID]?.since ?? now
        watchers[routingID] = Watcher(routingID: routingID, operatorID: operatorID, since: since, lastSeen: now)
    }

    /// The connection sent something: it is alive.
    public mutating func heard(_ routingID: [UInt8], now: Timestamp) {
        watchers[routingID]?.lastSeen = now
    }

    @discardableResult
    public mutating func remove(_ routingID: [UInt8]) -> Watcher? {
        watchers.removeValue(forKey: routingID)
    }

    /// Removes and returns the streams silent for longer than the timeout.
    public mutating func expire(now: Timestamp) -> [Watcher] {
        let old = watchers.values.filter { now.milliseconds - $0.lastSeen.milliseconds > timeoutMilliseconds }
        for w in old { watchers[w.routingID] = nil }
        return old
    }
}
