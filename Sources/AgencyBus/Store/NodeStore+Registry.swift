import Foundation

// The agency registry (issue 6): agenda numbers, the holders of dispositions with their
// progress, the full-text index, and the record of archive exports. Everything here is
// written in the same transaction as the message it concerns, by the two hooks below that
// `NodeStore.insert` and `NodeStore.markReceived` call.

extension NodeStore {
    // MARK: - Schema

    /// Migration `004-registry`.
    ///
    /// - `agenda`: one row per letter and direction. `UNIQUE (direction, year, number)` makes a
    ///   duplicate number impossible; `UNIQUE (direction, message_id)` makes a second number
    ///   for the same letter impossible. A letter a unit sent to another unit of its own agency
    ///   is both sent and received here, so it has an OUT and an IN number. The row keeps what
    ///   the register shows (number and date of the letter, sender, recipients, subject,
    ///   classification, urgency), so the register stays complete after `archive prune`.
    /// - `disposition_holders`: one row per disposition and addressee, with the most advanced
    ///   status reported for that addressee (read < in-progress < done), for the agenda's "due
    ///   or overdue" list and for deciding when a letter is closed.
    /// - `search_index`: FTS5, `unicode61 remove_diacritics 2`; rowid = `messages.seq`.
    /// - `archive_exports` / `archive_items`: what each export holds (by id and header hash).
    /// - `registry_state`: `backfill` marks a store that had messages before this migration;
    ///   `prepareRegistry` numbers and indexes them once, in storage order.
    static let registryMigration = """
        CREATE TABLE agenda (
            direction      TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            year           INTEGER NOT NULL,
            number         INTEGER NOT NULL CHECK (number > 0),
            message_id     TEXT NOT NULL,
            assigned_at    INTEGER NOT NULL,
            letter_number  TEXT NOT NULL,
            letter_date    TEXT NOT NULL,
            sender         TEXT NOT NULL,
            recipients     TEXT NOT NULL,
            subject        TEXT NOT NULL,
            classification TEXT NOT NULL,
            urgency        TEXT NOT NULL,
            UNIQUE (direction, year, number),
            UNIQUE (direction, message_id)
        );
        CREATE INDEX agenda_assigned ON agenda (assigned_at);
        CREATE INDEX agenda_message ON agenda (message_id);
        CREATE TABLE disposition_holders (
            disposition_id TEXT NOT NULL,
            letter_id      TEXT NOT NULL,
            holder         TEXT NOT NULL,
            due            TEXT,
            status         TEXT NOT NULL DEFAULT '',
            status_at      TEXT,
            PRIMARY KEY (disposition_id, holder)
        );
        CREATE INDEX disposition_holders_due ON disposition_holders (due) WHERE due IS NOT NULL;
        CREATE INDEX disposition_holders_open ON disposition_holders (due) WHERE due IS NOT NULL AND status <> 'done';
        CREATE INDEX disposition_holders_letter ON disposition_holders (letter_id);
        CREATE VIRTUAL TABLE search_index USING fts5(
            subject, body, number, sender, notes, attachments,
            kind UNINDEXED, letter_id UNINDEXED, classification UNINDEXED,
            tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO search_index (search_index, rank) VALUES ('rank', 'bm25(8.0, 1.0, 8.0, 2.0, 2.0, 0.5)');
        CREATE TABLE archive_exports (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            year        INTEGER NOT NULL,
            path        TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            exported_at INTEGER NOT NULL,
            verified_at INTEGER,
            messages    INTEGER NOT NULL
        );
        CREATE TABLE archive_items (
            export_id  INTEGER NOT NULL REFERENCES archive_exports(id),
            message_id TEXT NOT NULL,
            hash       BLOB NOT NULL,
            PRIMARY KEY (message_id, export_id)
        );
        CREATE TABLE registry_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO registry_state (key, value) SELECT 'backfill', 'pending' WHERE EXISTS (SELECT 1 FROM messages);
        """

    // MARK: - Hooks (inside the storing transaction)

    /// Called by `insert` once the message row and its attachments are written: an outgoing
    /// letter gets its OUT number, a disposition its holder rows, a status update moves its
    /// holder's progress, and every message is indexed for search.
    func registerStored(seq: Int64, envelope: Envelope, direction: String, subject: String, attachments: [AttachmentInfo]) throws {
        if direction == "out" && envelope.kind == "letter" {
            try assignAgenda(messageID: envelope.id, direction: "out", at: calendar.now(), letter: try? envelope.decode(Letter.self))
        }
        switch envelope.kind {
        case "disposition":
            if let d = try? envelope.decode(Disposition.self) { try addHolders(d) }
        case "status":
            if let st = try? envelope.decode(StatusUpdate.self) { try applyStatus(st) }
        default:
            break
        }
        try index(seq: seq, envelope: envelope, subject: subject, attachments: attachments)
    }

    /// Called by `markReceived` when a message first reaches this node's inbox: a letter gets
    /// its IN number.
    func registerReceived(id: String, letter: Letter? = nil) throws {
        if letter == nil {
            guard try db.queryOne("SELECT kind FROM messages WHERE id = ?", id, map: { $0.text(0) }) == "letter" else { return }
        }
        try assignAgenda(messageID: id, direction: "in", at: calendar.now(), letter: letter)
    }

    // MARK: - Opening

    /// Sets the agency's calendar (time zone) and, once, numbers and indexes what a store held
    /// before the registry existed: letters in storage order (OUT by when they were stored,
    /// IN by when they were received, each numbered in the year of that moment), every
    /// message indexed, every disposition's holders with the statuses already stored.
    public func prepareRegistry(calendar: AgencyCalendar) throws {
        self.calendar = calendar
        guard try db.queryOne("SELECT 1 FROM registry_state WHERE key = 'backfill'", map: { _ in true }) != nil else { return }
        try db.inTransaction {
            let outgoing = try db.query("""
                SELECT id, stored_at FROM messages WHERE kind = 'letter' AND direction = 'out'
                  AND NOT EXISTS (SELECT 1 FROM agenda a WHERE a.message_id = messages.id AND a.direction = 'out')
                ORDER BY stored_at, seq
                """) { ($0.text(0), $0.int(1)) }
            for (id, at) in outgoing { try assignAgenda(messageID: id, direction: "out", at: Timestamp(milliseconds: at)) }
            let incoming = try db.query("""
                SELECT id, received_at FROM messages WHERE kind = 'letter' AND received_at IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM agenda a WHERE a.message_id = messages.id AND a.direction = 'in')
                ORDER BY received_at, seq
                """) { ($0.text(0), $0.int(1)) }
            for (id, at) in incoming { try assignAgenda(messageID: id, direction: "in", at: Timestamp(milliseconds: at)) }
            let all = try db.query("SELECT seq, id, subject FROM messages ORDER BY seq") { ($0.int(0), $0.text(1), $0.text(2)) }
            for (seq, id, subject) in all {
                guard let envelope = try self.envelope(id: id) else { continue }
                let infos = (try? envelope.decode(Letter.self))?.attachments ?? []
                if envelope.kind == "disposition", let d = try? envelope.decode(Disposition.self) { try addHolders(d) }
                try index(seq: seq, envelope: envelope, subject: subject, attachments: infos)
            }
            try db.run("DELETE FROM registry_state WHERE key = 'backfill'")
        }
    }
}
