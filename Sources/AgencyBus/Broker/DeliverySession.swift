/// One agency's live delivery session: the connection that last sent SUBSCRIBE, how far the
/// broker has sent (cursor over delivery seq), and what is in flight awaiting a receipt.
/// Pure value; the broker loop performs the sends.
public struct DeliverySession {
    public let agency: String
    public let routingID: [UInt8]
    /// Highest delivery seq sent on this session; a new session starts at 0, so everything
    /// still pending is resent in acceptance order (inboxes de-duplicate by id).
    public var cursor: Int64 = 0
    /// message id → delivery seq and first send time, sent and not yet receipted.
    public var inFlight: [String: (seq: Int64, sentAt: Timestamp)] = [:]
    public var lastSeen: Timestamp
    public let since: Timestamp

    public init(agency: String, routingID: [UInt8], now: Timestamp) {
        self.agency = agency
        self.routingID = routingID
        self.lastSeen = now
        self.since = now
    }

    /// How many more deliveries the window allows now.
    public func room(window: Int) -> Int { max(0, window - inFlight.count) }

    public mutating func sent(messageID: String, deliverySeq: Int64, at time: Timestamp) {
        inFlight[messageID] = (deliverySeq, time)
        cursor = max(cursor, deliverySeq)
    }

    /// A receipt item arrived for `messageID`: it leaves the window.
    public mutating func receipted(messageID: String) {
        inFlight[messageID] = nil
    }
}
