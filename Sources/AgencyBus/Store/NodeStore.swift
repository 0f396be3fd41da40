import Foundation

/// A node's durable store (`inbox.sqlite`): letters received (inbox) and sent (outbox until
/// the broker accepts them), their attachments, per-recipient delivery status of sent letters,
/// and the signed evidence (broker acceptances, recipients' receipts).
public final class NodeStore {
    public let db: SQLiteConnection
    /// The agency's time zone and clock for agenda numbers and days (see `prepareRegistry`).
    public var calendar: AgencyCalendar = .local

    static let migrations: [(id: String, sql: String)] = [
        ("001-messages", """
        CREATE TABLE messages (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            id           TEXT NOT NULL UNIQUE,
            kind         TEXT NOT NULL,
            direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            sender       TEXT NOT NULL,
            subject      TEXT NOT NULL DEFAULT '',
            header       BLOB NOT NULL,
            signature    BLOB NOT NULL,
            hash         BLOB NOT NULL,
            created      TEXT NOT NULL,
            stored_at    INTEGER NOT NULL,
            state        TEXT NOT NULL,
            state_reason TEXT,
            accepted_at  TEXT
        );
        CREATE INDEX messages_direction ON messages (direction, seq);
        CREATE INDEX messages_outbox ON messages (seq) WHERE state = 'queued';
        CREATE TABLE attachments (
            message_seq INTEGER NOT NULL REFERENCES messages(seq),
            idx         INTEGER NOT NULL,
            name        TEXT NOT NULL,
            media_type  TEXT NOT NULL,
            size        INTEGER NOT NULL,
            sha256      TEXT NOT NULL,
            data        BLOB NOT NULL,
            PRIMARY KEY (message_seq, idx)
        );
        CREATE TABLE deliveries (
            message_seq INTEGER NOT NULL REFERENCES messages(seq),
            recipient   TEXT NOT NULL,
            state       TEXT NOT NULL DEFAULT 'pending',
            reason      TEXT,
            receipt_id  TEXT,
            at          TEXT,
            PRIMARY KEY (message_seq, recipient)
        );
        CREATE TABLE evidence (
            id          TEXT PRIMARY KEY,
            kind        TEXT NOT NULL,
            signer      TEXT NOT NULL,
            header      BLOB NOT NULL,
            signature   BLOB NOT NULL,
            received_at INTEGER NOT NULL
        );
        CREATE TABLE rejected (
            id          TEXT NOT NULL,
            sender      TEXT NOT NULL,
            reason      TEXT NOT NULL,
            header      BLOB NOT NULL,
            signature   BLOB NOT NULL,
            at          INTEGER NOT NULL
        );
        """),
        ("002-dispositions", """
        ALTER TABLE messages ADD COLUMN letter_id TEXT;
        ALTER TABLE messages ADD COLUMN parent_id TEXT;
        ALTER TABLE messages ADD COLUMN due TEXT;
        ALTER TABLE messages ADD COLUMN read_sent_at TEXT;
        CREATE INDEX messages_letter ON messages (letter_id);
        """),
        ("003-received", """
        ALTER TABLE messages ADD COLUMN received_at INTEGER;
        UPDATE messages SET received_at = stored_at WHERE direction = 'in';
        CREATE INDEX messages_received ON messages (received_at, seq) WHERE received_at IS NOT NULL;
        """),
        ("004-registry", NodeStore.registryMigration),  // agenda, search, archive: NodeStore+Registry.swift
    ]

    public init(path: String) throws {
        db = try SQLiteConnection(path: path)
        try db.migrate(Self.migrations)
    }

    // MARK: - Writing

    /// Stores an envelope (letter in or out). Returns false when the id is already stored
    /// (inboxes de-duplicate by id). Call inside a transaction.
    @discardableResult
    public func insert(_ envelope: Envelope, direction: String, state: String, subject: String,
                       attachments: [AttachmentInfo] = [], recipients: [String] = [],
                       letterID: String? = nil, parentID: String? = nil, due: String? = nil) throws -> Bool {
        if try db.queryOne("SELECT 1 FROM messages WHERE id = ?", envelope.id, map: { _ in true }) != nil { return false }
        try db.run("""
            INSERT INTO messages (id, kind, direction, sender, subject, header, signature, hash, created, stored_at, state,
                                  letter_id, parent_id, due)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, envelope.id, envelope.kind, direction, envelope.common.from, subject, envelope.header,
                   envelope.signature, envelope.hash, envelope.common.created, Timestamp.now().milliseconds, state,
                   letterID ?? (envelope.kind == "letter" ? envelope.id : nil), parentID, due)
        let seq = db.lastInsertRowID  // before markReceived, which may insert an agenda row
        // A letter's header was decoded with the envelope (`decode` returns it); the agenda reuses it.
        if direction == "in" { try markReceived(id: envelope.id, letter: envelope.kind == "letter" ? try? envelope.decode(Letter.self) : nil) }
        for (i, (info, data)) in zip(attachments, envelope.attachments).enumerated() {
            try db.run("INSERT INTO attachments (message_seq, idx, name, media_type, size, sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       seq, i, info.name, info.mediaType, info.size, info.sha256, data)
        }
        for r in recipients {
            try db.run("INSERT INTO deliveries (message_seq, recipient) VALUES (?, ?)", seq, r)
        }
        try registerStored(seq: seq, envelope: envelope, direction: direction, subject: subject, attachments: attachments)
        return true
    }

    /// Records that the message was delivered to this node: a letter or disposition this
    /// node sent to (among others) its own agency is in its inbox too.
    public func markReceived(id: String, letter: Letter? = nil) throws {
        try db.run("UPDATE messages SET received_at = ? WHERE id = ? AND received_at IS NULL", Timestamp.now().milliseconds, id)
        if db.changes > 0 { try registerReceived(id: id, letter: letter) }  // its IN agenda number, same transaction
    }

    public func setState(id: String, state: String, reason: String? = nil, acceptedAt: String? = nil) throws {
        try db.run("UPDATE messages SET state = ?, state_reason = ?, accepted_at = COALESCE(?, accepted_at) WHERE id = ?",
                   state, reason, acceptedAt, id)
    }

    public func storeEvidence(_ envelope: Envelope) throws {
        try db.run("INSERT OR IGNORE INTO evidence (id, kind, signer, header, signature, received_at) VALUES (?, ?, ?, ?, ?, ?)",
                   envelope.id, envelope.kind, envelope.signerID, envelope.header, envelope.signature, Timestamp.now().milliseconds)
    }

    public func recordDelivery(messageID: String, recipient: String, state: String, reason: String?, receiptID: String, at: String) throws {
        try db.run("""
            UPDATE deliveries SET state = ?, reason = ?, receipt_id = ?, at = ?
            WHERE recipient = ? AND message_seq = (SELECT seq FROM messages WHERE id = ? AND direction = 'out')
            """, state, reason, receiptID, at, recipient, messageID)
    }

    public func recordRejected(_ envelope: Envelope, reason: String) throws {
        try db.run("INSERT INTO rejected (id, sender, reason, header, signature, at) VALUES (?, ?, ?, ?, ?, ?)",
                   envelope.id, envelope.common.from, reason, envelope.header, envelope.signature, Timestamp.now().milliseconds)
    }

    // MARK: - Reading

    public struct Summary: Sendable {
        public let seq: Int64
        public let id: String
        public let kind: String
        public let direction: String
        public let sender: String
        public let subject: String
        public let created: String
        public let storedAt: Int64
        public let state: String
        public let stateReason: String?
        public let acceptedAt: String?
        public let header: Data
        public let letterID: String?
        public let parentID: String?
        public let due: String?
        public let readSentAt: String?
        public let receivedAt: Int64?
        /// Delivered to this node (its inbox), whoever sent it.
        public var received: Bool { receivedAt != nil }
    }

    static let summaryColumns = "seq, id, kind, direction, sender, subject, created, stored_at, state, state_reason, accepted_at, header, letter_id, parent_id, due, read_sent_at, received_at"
    static func summary(_ r: Row) -> Summary {
        Summary(seq: r.int(0), id: r.text(1), kind: r.text(2), direction: r.text(3), sender: r.text(4), subject: r.text(5),
                created: r.text(6), storedAt: r.int(7), state: r.text(8), stateReason: r.optionalText(9),
                acceptedAt: r.optionalText(10), header: r.blob(11), letterID: r.optionalText(12), parentID: r.optionalText(13),
                due: r.optionalText(14), readSentAt: r.optionalText(15), receivedAt: r.isNull(16) ? nil : r.int(16))
    }

    /// Records that this node sent its `read` status for the item (done once, on first `show`).
    public func markReadSent(id: String, at: String) throws {
        try db.run("UPDATE messages SET read_sent_at = ? WHERE id = ? AND read_sent_at IS NULL", at, id)
    }

    /// Status updates this node received or sent about an item, oldest first.
    public func statuses(item: String) throws -> [StatusUpdate] {
        try db.query("SELECT header FROM messages WHERE kind = 'status' AND letter_id IS NOT NULL AND parent_id = ? ORDER BY seq", item) {
            try JSONDecoder().decode(StatusUpdate.self, from: $0.blob(0))
        }
    }

    /// What was delivered to this node (the inbox), newest first.
    public func received(limit: Int = 1000) throws -> [Summary] {
        try db.query("SELECT \(Self.summaryColumns) FROM messages WHERE received_at IS NOT NULL ORDER BY received_at DESC, seq DESC LIMIT ?", limit, map: Self.summary)
    }

    public func messages(direction: String, limit: Int = 1000) throws -> [Summary] {
        try db.query("SELECT \(Self.summaryColumns) FROM messages WHERE direction = ? ORDER BY seq DESC LIMIT ?", direction, limit, map: Self.summary)
    }

    /// Sent messages the broker has not accepted yet, oldest first.
    public func outbox() throws -> [Summary] {
        try db.query("SELECT \(Self.summaryColumns) FROM messages WHERE state = 'queued' ORDER BY seq", map: Self.summary)
    }

    public func message(id: String) throws -> Summary? {
        try db.queryOne("SELECT \(Self.summaryColumns) FROM messages WHERE id = ?", id, map: Self.summary)
    }

    /// The whole envelope, attachments included.
    public func envelope(id: String) throws -> Envelope? {
        guard let (seq, header, signature) = try db.queryOne("SELECT seq, header, signature FROM messages WHERE id = ?", id, map: {
            ($0.int(0), $0.blob(1), $0.blob(2))
        }) else { return nil }
        let data = try db.query("SELECT data FROM attachments WHERE message_seq = ? ORDER BY idx", seq) { $0.blob(0) }
        return try Envelope(header: header, signature: signature, attachments: data)
    }

    public struct DeliveryStatus: Sendable {
        public let recipient: String
        public let state: String
        public let reason: String?
        public let at: String?
    }

    public func deliveries(id: String) throws -> [DeliveryStatus] {
        try db.query("""
            SELECT d.recipient, d.state, d.reason, d.at FROM deliveries d JOIN messages m ON m.seq = d.message_seq
            WHERE m.id = ? ORDER BY d.recipient
            """, id) { DeliveryStatus(recipient: $0.text(0), state: $0.text(1), reason: $0.optionalText(2), at: $0.optionalText(3)) }
    }

    public func count(direction: String) throws -> Int {
        Int(try db.queryOne("SELECT COUNT(*) FROM messages WHERE direction = ?", direction) { $0.int(0) } ?? 0)
    }
}
