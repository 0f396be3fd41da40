import Foundation

/// One thing that happened at the broker, as the operator stream (`WATCH`) sends it in an
/// `EVENT` frame and as `BrokerStats` counts it.
///
/// Metadata only by default: ids, kinds, agencies, sizes, times, codes and reasons. The content
/// fields (`subject`, `body`, `note`) are filled only for an operator whose topology entry has
/// `"content": true`; everyone else gets `redacted()`.
///
/// ```json
/// {"agency":"kemenpanrb","bytes":912,"from":"kemenpanrb/setmen","id":"01KJ…","kind":"accepted",
///  "messageKind":"letter","to":["bappenas"],"ts":"2026-03-02T02:15:07.412Z"}
/// ```
public struct BrokerEvent: Codable, Sendable, Equatable {
    /// What happened.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A submission was committed (durable) for the first time. `agency` = sender.
        case accepted
        /// A recipient's signed receipt said `stored`. `agency` = recipient.
        case delivered
        /// A recipient's signed receipt said `rejected` (bad signature, conflict…). `agency` = recipient.
        case rejected
        /// The broker answered REFUSED. `agency` when the connection was an agency's.
        case refused
        /// An agency node's delivery session began (SUBSCRIBE). `peer` = its address.
        case connected
        /// An agency node's delivery session ended (gone, silent, replaced, reload).
        case disconnected
        /// An operator stream was dropped because it could not keep up.
        case operatorDropped = "operator-dropped"
    }

    /// When it happened (RFC 3339 UTC, broker clock).
    public var ts: String
    public var kind: Kind
    /// The agency the event counts for (sender for `accepted`, recipient for `delivered`…).
    public var agency: String?
    /// Message id (the refused message's id, or "-" when unknown).
    public var id: String?
    /// `letter`, `disposition`, `status` or `receipt`.
    public var messageKind: String?
    /// Sender address.
    public var from: String?
    /// Recipient agencies.
    public var to: [String]?
    /// Header plus attachment bytes of the message.
    public var bytes: Int64?
    /// accepted → receipt, for `delivered` and `rejected`.
    public var latencyMs: Int64?
    /// Refusal code (`refused`).
    public var code: String?
    /// Refusal or rejection reason; why a session ended.
    public var reason: String?
    /// Peer network address (`connected`, `refused`).
    public var peer: String?
    /// Operator id (`operator-dropped`).
    public var `operator`: String?
    /// Content, only for operators granted it.
    public var subject: String?
    public var body: String?
    public var note: String?

    public init(ts: Timestamp, kind: Kind, agency: String? = nil, id: String? = nil, messageKind: String? = nil,
                from: String? = nil, to: [String]? = nil, bytes: Int64? = nil, latencyMs: Int64? = nil,
                code: String? = nil, reason: String? = nil, peer: String? = nil, operator: String? = nil) {
        self.ts = ts.text
        self.kind = kind
        self.agency = agency
        self.id = id
        self.messageKind = messageKind
        self.from = from
        self.to = to
        self.bytes = bytes
        self.latencyMs = latencyMs
        self.code = code
        self.reason = reason
        self.peer = peer
        self.operator = `operator`
    }

    /// True when any content field is set.
    public var hasContent: Bool { subject != nil || body != nil || note != nil || (kind == .rejected && reason != nil) }

    /// What a `rejected` event says instead of the recipient node's own words, which can quote
    /// the letter (an attachment's file name, a field's value).
    public static let withheldRejection = "rejected by the recipient's node (its reason needs the content grant)"

    /// The same event without letter content (what operators without the grant receive).
    public func redacted() -> BrokerEvent {
        var copy = self
        copy.subject = nil
        copy.body = nil
        copy.note = nil
        if kind == .rejected, reason != nil { copy.reason = Self.withheldRejection }
        return copy
    }

    /// Whether the event concerns `agency`: as the counted agency, the sender or a recipient.
    public func involves(agency wanted: String) -> Bool {
        func agencyOf(_ address: String) -> Substring { address.split(separator: "/", maxSplits: 1).first ?? "" }
        if agency == wanted { return true }
        if let from, agencyOf(from) == wanted { return true }
        return to?.contains { agencyOf($0) == wanted } ?? false
    }

    /// Compact JSON with sorted keys, as it travels in an EVENT frame.
    public func json() -> Data {
        // try!: every field is a string, number or string array; encoding cannot fail.
        try! Self.encoder.encode(self)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}
