import Foundation

/// Compares what senders sent, what the broker holds and what recipients' inboxes hold, and
/// reports anything missing, duplicated or lost. Used by the fault tests and by operators
/// (`bus-cli verify-delivery`). Reads the stores only.
public struct DeliveryAudit: Sendable {
    public struct Problem: Sendable, CustomStringConvertible {
        public let kind: String      // missing, duplicated, lost
        public let messageID: String
        public let agency: String
        public let detail: String
        public var description: String { "\(kind): \(messageID) \(agency): \(detail)" }
    }

    /// Messages the broker accepted (letters, dispositions, status updates).
    public var accepted = 0
    /// Deliveries to audited nodes that are in the recipient's inbox.
    public var delivered = 0
    /// Deliveries still waiting at the broker for an audited node (not yet an error).
    public var pending = 0
    /// Sent messages still in a sender's outbox (never accepted; not an error).
    public var queued = 0
    public var problems: [Problem] = []

    public var missing: Int { problems.filter { $0.kind == "missing" }.count }
    public var duplicated: Int { problems.filter { $0.kind == "duplicated" }.count }
    public var lost: Int { problems.filter { $0.kind == "lost" }.count }

    /// Runs the audit. With `drained`, a delivery still pending for an audited node counts as
    /// missing (use it once every node has had time to receive everything).
    public static func run(brokerStore: String, nodeDirectories: [String], drained: Bool) throws -> DeliveryAudit {
        var audit = DeliveryAudit()
        let broker = try SQLiteConnection(path: brokerStore)
        var nodes: [String: NodeStore] = [:]
        for dir in nodeDirectories {
            let config = try NodeConfig.load(directory: dir)
            nodes[config.agency] = try NodeStore(path: NodeConfig.inboxPath(in: dir))
        }
        let tracked = "('letter', 'disposition', 'status')"
        audit.accepted = Int(try broker.queryOne("SELECT COUNT(*) FROM messages WHERE kind IN \(tracked)") { $0.int(0) } ?? 0)

        // Every delivery to an audited node: in its inbox exactly once, or still pending.
        let rows = try broker.query("""
            SELECT m.id, m.hash, d.recipient, d.state FROM deliveries d JOIN messages m ON m.seq = d.message_seq
            WHERE m.kind IN \(tracked)
            """) { ($0.text(0), $0.blob(1), $0.text(2), $0.int(3)) }
        for (id, hash, recipient, state) in rows {
            guard let store = nodes[recipient] else { continue }
            let copies = try store.db.query("SELECT hash FROM messages WHERE id = ? AND received_at IS NOT NULL", id) { $0.blob(0) }
            if copies.count > 1 {
                audit.problems.append(Problem(kind: "duplicated", messageID: id, agency: recipient, detail: "\(copies.count) copies in the inbox"))
            } else if let copy = copies.first {
                if copy == hash { audit.delivered += 1 } else {
                    audit.problems.append(Problem(kind: "duplicated", messageID: id, agency: recipient, detail: "the inbox holds other content under this id"))
                }
            } else if state == BrokerStore.DeliveryState.pending.rawValue && !drained {
                audit.pending += 1
            } else if state == BrokerStore.DeliveryState.rejected.rawValue {
                audit.delivered += 1  // the recipient refused it with a signed reason: settled, not lost
            } else {
                audit.problems.append(Problem(kind: "missing", messageID: id, agency: recipient,
                                              detail: state == 0 ? "still pending at the broker" : "the broker has a receipt but the inbox lacks it"))
            }
        }

        // Every message a sender believes accepted must be at the broker; the rest must still
        // be in its outbox.
        for (agency, store) in nodes {
            let sent = try store.db.query("SELECT id, state FROM messages WHERE direction = 'out' AND kind IN \(tracked)") { ($0.text(0), $0.text(1)) }
            for (id, state) in sent {
                let atBroker = try broker.queryOne("SELECT 1 FROM messages WHERE id = ?", id) { _ in true } ?? false
                switch state {
                case "accepted":
                    if !atBroker {
                        audit.problems.append(Problem(kind: "lost", messageID: id, agency: agency, detail: "accepted by the broker but not in its store"))
                    }
                case "queued":
                    audit.queued += 1
                default:
                    break  // refused: the sender was told why; nothing to deliver
                }
            }
        }
        return audit
    }

    public var json: [String: Any] {
        ["accepted": accepted, "delivered": delivered, "pending": pending, "queued": queued,
         "missing": missing, "duplicated": duplicated, "lost": lost,
         "problems": problems.prefix(100).map(\.description)]
    }
}
