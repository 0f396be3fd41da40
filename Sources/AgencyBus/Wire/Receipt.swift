import Foundation

/// A recipient's signed statement that messages are in its inbox (or were rejected, and why).
/// One receipt covers many messages of one original sender: one signature per batch, while
/// each item still names the exact header hash it vouches for.
public struct Receipt: Codable, Sendable {
    public struct Item: Codable, Sendable, Hashable {
        public var id: String
        public var sha256: String
        /// `stored`, `rejected`, or `deferred` (not stored yet, e.g. the sender's key is unknown
        /// to the node: it only frees the delivery window; the broker keeps the message).
        public var status: String
        public var reason: String?
        public init(id: String, sha256: String, status: String, reason: String? = nil) {
            self.id = id; self.sha256 = sha256; self.status = status; self.reason = reason
        }
    }

    public var v: Int = 1
    public var kind: String = "receipt"
    public var id: String
    /// The recipient agency that signs.
    public var from: String
    public var created: String
    /// The agency the receipt is for (the items' sender), or `broker` when it only closes
    /// deliveries of receipts and other notices that are not forwarded.
    public var to: String
    public var items: [Item]

    public init(id: String, from: String, created: Timestamp, to: String, items: [Item]) {
        self.id = id; self.from = from; self.created = created.text; self.to = to; self.items = items
    }

    public func validate() throws {
        guard kind == "receipt" else { throw ProtocolError(.malformed, "kind: expected 'receipt'") }
        guard Slug.isValid(from) else { throw ProtocolError(.invalid, "from: a receipt is signed by an agency id") }
        guard to == "broker" || Slug.isValid(to) else { throw ProtocolError(.invalid, "to: an agency id or 'broker'") }
        guard !items.isEmpty, items.count <= Limits.maxReceiptItems else {
            throw ProtocolError(.invalid, "items: 1–\(Limits.maxReceiptItems) entries, got \(items.count)")
        }
        for (i, item) in items.enumerated() {
            guard MessageID.isValid(item.id) else { throw ProtocolError(.invalid, "items[\(i)].id: not a ULID") }
            guard item.sha256.count == 64, Data(hexString: item.sha256) != nil else {
                throw ProtocolError(.invalid, "items[\(i)].sha256: must be 64 hex digits")
            }
            guard ["stored", "rejected", "deferred"].contains(item.status) else {
                throw ProtocolError(.invalid, "items[\(i)].status: 'stored', 'rejected' or 'deferred'")
            }
        }
    }
}

/// The broker's signed evidence of submission: these messages (by id and header hash) were
/// durably stored at `created`. One acceptance covers every submission of one connection
/// committed in the same group commit.
public struct Acceptance: Codable, Sendable {
    public struct Item: Codable, Sendable, Hashable {
        public var id: String
        public var sha256: String
    }

    public var v: Int = 1
    public var kind: String = "acceptance"
    public var id: String
    /// The broker id that signs.
    public var from: String
    public var created: String
    /// The agency whose submissions these are.
    public var to: String
    public var items: [Item]
}
