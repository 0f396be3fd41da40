import Foundation

/// The broker's durable store (`queue.sqlite`): every accepted message, its attachments, and
/// one delivery row per recipient agency that stays until that agency's signed receipt.
public final class BrokerStore {
    public let db: SQLiteConnection

    static let migrations: [(id: String, sql: String)] = [
        ("001-messages-deliveries", """
        CREATE TABLE messages (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            id          TEXT NOT NULL UNIQUE,
            kind        TEXT NOT NULL,
            sender      TEXT NOT NULL,
            header      BLOB NOT NULL,
            signature   BLOB NOT NULL,
            hash        BLOB NOT NULL,
            accepted_at INTEGER NOT NULL,
            size        INTEGER NOT NULL
        );
        CREATE TABLE attachments (
            message_seq INTEGER NOT NULL REFERENCES messages(seq),
            idx         INTEGER NOT NULL,
            data        BLOB NOT NULL,
            PRIMARY KEY (message_seq, idx)
        );
        CREATE TABLE deliveries (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            message_seq INTEGER NOT NULL REFERENCES messages(seq),
            recipient   TEXT NOT NULL,
            state       INTEGER NOT NULL DEFAULT 0,
            done_at     INTEGER,
            reason      TEXT,
            UNIQUE (message_seq, recipient)
        );
        CREATE INDEX deliveries_pending ON deliveries (recipient, seq) WHERE state = 0;
        """),
        ("002-items-holders-events", """
        CREATE TABLE items (
            id        TEXT PRIMARY KEY,
            letter_id TEXT NOT NULL,
            kind      TEXT NOT NULL,
            parent    TEXT,
            sender    TEXT NOT NULL,
            summary   TEXT NOT NULL
        );
        CREATE INDEX items_letter ON items (letter_id);
        CREATE TABLE holders (
            item_id   TEXT NOT NULL,
            letter_id TEXT NOT NULL,
            agency    TEXT NOT NULL,
            PRIMARY KEY (item_id, agency)
        );
        CREATE INDEX holders_letter ON holders (letter_id, agency);
        CREATE TABLE events (
            seq       INTEGER PRIMARY KEY AUTOINCREMENT,
            letter_id TEXT NOT NULL,
            item_id   TEXT NOT NULL,
            kind      TEXT NOT NULL,
            at        INTEGER NOT NULL,
            place     TEXT NOT NULL,
            signer    TEXT NOT NULL,
            detail    TEXT
        );
        CREATE INDEX events_letter ON events (letter_id, seq);
        """),
    ]

    /// Delivery states.
    public enum DeliveryState: Int64 { case pending = 0, stored = 1, rejected = 2 }

    public init(path: String) throws {
        db = try SQLiteConnection(path: path)
        try db.migrate(Self.migrations)
    }

    public struct StoredMessage {
        public let seq: Int64
        public let id: String
        public let kind: String
        public let sender: String
        public let hash: Data
        public let signature: Data
    }

    /// The stored message with this id, if any.
    public func message(id: String) throws -> StoredMessage? {
        try db.queryOne("SELECT seq, id, kind, sender, hash, signature FROM messages WHERE id = ?", id) {
            StoredMessage(seq: $0.int(0), id: $0.text(1), kind: $0.text(2), sender: $0.text(3), hash: $0.blob(4), signature: $0.blob(5))
        }
    }

    /// Inserts a message and its delivery rows. Call inside a transaction.
    public func insert(_ envelope: Envelope, sender: String, recipients: [String], acceptedAt: Timestamp) throws {
        let size = envelope.header.count + envelope.attachments.reduce(0) { $0 + $1.count }
        try db.run("INSERT INTO messages (id, kind, sender, header, signature, hash, accepted_at, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   envelope.id, envelope.kind, sender, envelope.header, envelope.signature, envelope.hash,
                   acceptedAt.milliseconds, size)
        let seq = db.lastInsertRowID
        for (i, data) in envelope.attachments.enumerated() {
            try db.run("INSERT INTO attachments (message_seq, idx, data) VALUES (?, ?, ?)", seq, i, data)
        }
        for r in recipients {
            try db.run("INSERT INTO deliveries (message_seq, recipient) VALUES (?, ?)", seq, r)
        }
    }

    public struct PendingDelivery {
        public let seq: Int64
        public let messageID: String
        public let messageSeq: Int64
        /// The stored signed bytes, forwarded verbatim (never re-encoded).
        public let header: Data
        public let signature: Data
    }

    /// Pending deliveries for `recipient` after `cursor`, in acceptance order, with the
    /// message bytes (one query; attachments come from `attachmentData`).
    public func pending(for recipient: String, after cursor: Int64, limit: Int) throws -> [PendingDelivery] {
        try db.query("""
            SELECT d.seq, m.id, m.seq, m.header, m.signature FROM deliveries d JOIN messages m ON m.seq = d.message_seq
            WHERE d.recipient = ? AND d.state = 0 AND d.seq > ? ORDER BY d.seq LIMIT ?
            """, recipient, cursor, limit) {
            PendingDelivery(seq: $0.int(0), messageID: $0.text(1), messageSeq: $0.int(2), header: $0.blob(3), signature: $0.blob(4))
        }
    }

    /// The attachment frames of a stored message, in order.
    public func attachmentData(messageSeq: Int64) throws -> [Data] {
        try db.query("SELECT data FROM attachments WHERE message_seq = ? ORDER BY idx", messageSeq) { $0.blob(0) }
    }

    /// Loads a whole envelope for delivery.
    public func envelope(id: String) throws -> Envelope? {
        guard let (seq, header, signature) = try db.queryOne("SELECT seq, header, signature FROM messages WHERE id = ?", id, map: {
            ($0.int(0), $0.blob(1), $0.blob(2))
        }) else { return nil }
        let attachments = try db.query("SELECT data FROM attachments WHERE message_seq = ? ORDER BY idx", seq) { $0.blob(0) }
        return try Envelope(header: header, signature: signature, attachments: attachments)
    }

    public struct DeliveryRow {
        public let seq: Int64
        public let state: DeliveryState
        public let messageSender: String
        public let messageHash: Data
        public let messageKind: String
        /// When the broker accepted the message (ms since the epoch), for delivery latency.
        public var messageAcceptedAt: Int64 = 0
        /// Header plus attachment bytes of the message.
        public var messageSize: Int64 = 0
    }

    /// The delivery of message `id` to `recipient`.
    public func delivery(messageID id: String, recipient: String) throws -> DeliveryRow? {
        try db.queryOne("""
            SELECT d.seq, d.state, m.sender, m.hash, m.kind, m.accepted_at, m.size FROM deliveries d JOIN messages m ON m.seq = d.message_seq
            WHERE m.id = ? AND d.recipient = ?
            """, id, recipient) {
            DeliveryRow(seq: $0.int(0), state: DeliveryState(rawValue: $0.int(1)) ?? .pending,
                        messageSender: $0.text(2), messageHash: $0.blob(3), messageKind: $0.text(4),
                        messageAcceptedAt: $0.int(5), messageSize: $0.int(6))
        }
    }

    /// Closes a delivery (stored or rejected) if it is still pending; true when it changed.
    @discardableResult
    public func close(deliverySeq: Int64, state: DeliveryState, reason: String?, at time: Timestamp) throws -> Bool {
        try db.run("UPDATE deliveries SET state = ?, reason = ?, done_at = ? WHERE seq = ? AND state = 0",
                   state.rawValue, reason, time.milliseconds, deliverySeq)
        return db.changes > 0
    }

    /// Agencies with pending deliveries, with counts (for logs and, later, stats).
    public func pendingCounts() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for (r, n) in try db.query("SELECT recipient, COUNT(*) FROM deliveries WHERE state = 0 GROUP BY recipient", map: { ($0.text(0), Int($0.int(1))) }) {
            out[r] = n
        }
        return out
    }

    // MARK: - Monitoring

    /// Undelivered mail of one recipient agency.
    public struct QueueEntry: Sendable, Equatable {
        public let recipient: String
        public let depth: Int
        /// `accepted_at` (ms since the epoch) of the oldest pending message.
        public let oldestAcceptedAt: Int64
    }

    /// Depth and oldest acceptance time of every recipient's pending deliveries, in one
    /// GROUP BY. It walks only the pending rows through the partial index `deliveries_pending`
    /// (state = 0), so its cost follows what is queued, not the history.
    public func queueSummary() throws -> [QueueEntry] {
        try db.query(Self.queueSummarySQL) {
            QueueEntry(recipient: $0.text(0), depth: Int($0.int(1)), oldestAcceptedAt: $0.int(2))
        }
    }

    /// A test checks with EXPLAIN QUERY PLAN that SQLite walks `deliveries_pending` for it.
    static let queueSummarySQL = """
        SELECT d.recipient, COUNT(*), MIN(m.accepted_at)
        FROM deliveries d JOIN messages m ON m.seq = d.message_seq
        WHERE d.state = 0 GROUP BY d.recipient
        """

    /// Bytes of the main database file (page_count × page_size; the WAL is not counted).
    public func storeBytes() throws -> Int64 {
        let pages = try db.queryOne("PRAGMA page_count") { $0.int(0) } ?? 0
        let size = try db.queryOne("PRAGMA page_size") { $0.int(0) } ?? 0
        return pages * size
    }

    // MARK: - Items, holders and trace events (dispositions and tracking)

    public struct Item: Sendable {
        public let id: String
        public let letterID: String
        public let kind: String
        public let parent: String?
        public let sender: String
        /// JSON object with what a trace shows of the item (subject or instructions, to, due).
        public let summary: String

        public init(id: String, letterID: String, kind: String, parent: String?, sender: String, summary: String) {
            self.id = id; self.letterID = letterID; self.kind = kind; self.parent = parent; self.sender = sender; self.summary = summary
        }
    }

    public func item(id: String) throws -> Item? {
        try db.queryOne("SELECT id, letter_id, kind, parent, sender, summary FROM items WHERE id = ?", id) {
            Item(id: $0.text(0), letterID: $0.text(1), kind: $0.text(2), parent: $0.optionalText(3), sender: $0.text(4), summary: $0.text(5))
        }
    }

    public func items(letterID: String) throws -> [Item] {
        try db.query("SELECT id, letter_id, kind, parent, sender, summary FROM items WHERE letter_id = ? ORDER BY rowid", letterID) {
            Item(id: $0.text(0), letterID: $0.text(1), kind: $0.text(2), parent: $0.optionalText(3), sender: $0.text(4), summary: $0.text(5))
        }
    }

    public func insertItem(_ item: Item, holders: [String]) throws {
        try db.run("INSERT INTO items (id, letter_id, kind, parent, sender, summary) VALUES (?, ?, ?, ?, ?, ?)",
                   item.id, item.letterID, item.kind, item.parent, item.sender, item.summary)
        for agency in holders {
            try db.run("INSERT OR IGNORE INTO holders (item_id, letter_id, agency) VALUES (?, ?, ?)", item.id, item.letterID, agency)
        }
    }

    /// True when `agency` received the item (or, with `itemID == nil`, any item of the letter).
    public func isHolder(agency: String, letterID: String, itemID: String? = nil) throws -> Bool {
        if let itemID {
            return try db.queryOne("SELECT 1 FROM holders WHERE item_id = ? AND agency = ?", itemID, agency) { _ in true } ?? false
        }
        return try db.queryOne("SELECT 1 FROM holders WHERE letter_id = ? AND agency = ? LIMIT 1", letterID, agency) { _ in true } ?? false
    }

    /// True when the agency sent or holds anything in the letter's tree.
    public func isInvolved(agency: String, letterID: String) throws -> Bool {
        if try isHolder(agency: agency, letterID: letterID) { return true }
        return try db.queryOne("SELECT 1 FROM items WHERE letter_id = ? AND sender = ? LIMIT 1", letterID, agency) { _ in true } ?? false
    }

    /// Adds a delivery of an already stored message (a letter reaching a new holder through a disposition).
    public func addDelivery(messageID: String, recipient: String) throws {
        try db.run("INSERT OR IGNORE INTO deliveries (message_seq, recipient) SELECT seq, ? FROM messages WHERE id = ?", recipient, messageID)
    }

    public func recordEvent(_ e: TraceEvent) throws {
        try db.run("INSERT INTO events (letter_id, item_id, kind, at, place, signer, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   e.letter, e.item, e.kind, e.at.milliseconds, e.place, e.signer, e.detail)
    }

    public func events(letterID: String) throws -> [TraceEvent] {
        try db.query("SELECT letter_id, item_id, kind, at, place, signer, detail FROM events WHERE letter_id = ? ORDER BY seq", letterID) {
            TraceEvent(letter: $0.text(0), item: $0.text(1), kind: $0.text(2), at: Timestamp(milliseconds: $0.int(3)),
                       place: $0.text(4), signer: $0.text(5), detail: $0.optionalText(6))
        }
    }
}
