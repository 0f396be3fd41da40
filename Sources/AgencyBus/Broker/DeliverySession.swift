/// One agency's live delivery session: the connection that last sent SUBSCRIBE, how far the
/// broker has sent (cursor over delivery seq), and what is in flight awaiting a receipt.
/// Pure value; the broker loop performs the sends.
public struct DeliverySession {
    public let agency: String
    public let routingID: [UInt8]
    /// Highest delivery seq sent on this session; a new session starts at 0, so everything
    /// still pending is resent in acceptance order (inboxes de-duplicate by id).
    public var cursor: Int64 = 0
    /// message id → delivery seq, first send time and size, sent and not yet receipted.
    public private(set) var inFlight: [String: (seq: Int64, sentAt: Timestamp, bytes: Int)] = [:]
    /// The bytes of what is in flight: the window is bounded in messages and in bytes, so a
    /// node is never sent hundreds of large letters at once.
    public private(set) var inFlightBytes = 0
    public var lastSeen: Timestamp
    public let since: Timestamp

    public init(agency: String, routingID: [UInt8], now: Timestamp) {
        self.agency = agency
        self.routingID = routingID
        self.lastSeen = now
        self.since = now
    }

    /// How many more deliveries the window allows now: none once `windowBytes` are in flight
    /// (one message always fits, however large, when nothing is in flight).
    public func room(window: Int, windowBytes: Int = .max) -> Int {
        inFlightBytes >= windowBytes ? 0 : max(0, window - inFlight.count)
    }

    public mutating func sent(messageID: String, deliverySeq: Int64, at time: Timestamp, bytes: Int = 0) {
        if let old = inFlight[messageID] { inFlightBytes -= old.bytes }
        inFlight[messageID] = (deliverySeq, time, bytes)
        inFlightBytes += bytes
        cursor = max(cursor, deliverySeq)
    }

    /// A receipt item arrived for `messageID`: it leaves the window.
    public mutating func receipted(messageID: String) {
        if let old = inFlight.removeValue(forKey: messageID) { inFlightBytes -= old.bytes }
    }

    /// Forgets everything in flight and starts again from the first pending delivery.
    public mutating func rewind() {
        inFlight.removeAll()
        inFlightBytes = 0
        cursor = 0
    }
}
