import Foundation

extension NodeStore {
    // MARK: - What an archive of a year holds

    /// One stored message with everything an archive entry carries.
    public struct ArchivedMessage {
        public let seq: Int64
        public let summary: Summary
        public let envelope: Envelope
        public let agendaNumbers: [AgendaNumber]
        public let deliveries: [DeliveryStatus]
    }

    /// The ids (storage order) of the letters with an agenda number of `year` that are still
    /// in the store, and every message of their trees (dispositions and status updates, of
    /// any year: a disposition of January on a letter of December goes with the letter).
    public func archiveSelection(year: Int) throws -> [String] {
        try db.query("""
            SELECT id FROM messages
            WHERE letter_id IN (SELECT a.message_id FROM agenda a WHERE a.year = ?)
            ORDER BY seq
            """, year) { $0.text(0) }
    }

    public func archivedMessage(id: String) throws -> ArchivedMessage? {
        guard let summary = try message(id: id), let envelope = try envelope(id: id) else { return nil }
        return ArchivedMessage(seq: summary.seq, summary: summary, envelope: envelope,
                               agendaNumbers: try agendaNumbers(messageID: id), deliveries: try deliveries(id: id))
    }

    /// Stored evidence (broker acceptances, recipients' receipts) naming any of `ids`.
    public func evidence(naming ids: Set<String>) throws -> [(id: String, kind: String, signer: String, header: Data, signature: Data, receivedAt: Int64)] {
        struct Items: Decodable { struct Item: Decodable { let id: String }; let items: [Item] }
        return try db.query("SELECT id, kind, signer, header, signature, received_at FROM evidence ORDER BY received_at, id") { r in
            (r.text(0), r.text(1), r.text(2), r.blob(3), r.blob(4), r.int(5))
        }.filter { e in
            guard let items = try? JSONDecoder().decode(Items.self, from: e.header) else { return false }
            return items.items.contains { ids.contains($0.id) }
        }
    }

    // MARK: - Record of exports

    /// Records an export and the header hash of every message in it. `verified` when the
    /// written file passed `ArchiveVerifier`.
    @discardableResult
    public func recordExport(year: Int, path: String, fileSHA256: String, items: [(id: String, hash: Data)], verified: Bool) throws -> Int64 {
        try db.inTransaction {
            let now = Timestamp.now().milliseconds
            try db.run("""
                INSERT INTO archive_exports (year, path, file_sha256, exported_at, verified_at, messages) VALUES (?, ?, ?, ?, ?, ?)
                """, year, path, fileSHA256, now, verified ? now : nil, items.count)
            let export = db.lastInsertRowID
            for item in items {
                try db.run("INSERT OR IGNORE INTO archive_items (export_id, message_id, hash) VALUES (?, ?, ?)", export, item.id, item.hash)
            }
            return export
        }
    }

    /// Marks the exports whose file has this SHA-256 as verified now (by `archive verify
    /// --node`). Returns how many records matched.
    @discardableResult
    public func markExportVerified(fileSHA256: String) throws -> Int {
        try db.inTransaction {
            try db.run("UPDATE archive_exports SET verified_at = ? WHERE file_sha256 = ?", Timestamp.now().milliseconds, fileSHA256)
            return db.changes
        }
    }

    public struct ExportRecord: Sendable {
        public let id: Int64
        public let year: Int
        public let path: String
        public let fileSHA256: String
        public let exportedAt: Timestamp
        public let verifiedAt: Timestamp?
        public let messages: Int
    }

    public func exports() throws -> [ExportRecord] {
        try db.query("SELECT id, year, path, file_sha256, exported_at, verified_at, messages FROM archive_exports ORDER BY id") { r in
            ExportRecord(id: r.int(0), year: Int(r.int(1)), path: r.text(2), fileSHA256: r.text(3),
                         exportedAt: Timestamp(milliseconds: r.int(4)), verifiedAt: r.isNull(5) ? nil : Timestamp(milliseconds: r.int(5)),
                         messages: Int(r.int(6)))
        }
    }

    // MARK: - Pruning

    /// The letters that are in a verified export (candidates for pruning), in storage order.
    func exportedLetters() throws -> [String] {
        try db.query("""
            SELECT m.id FROM messages m
            WHERE m.kind = 'letter' AND EXISTS (
                SELECT 1 FROM archive_items i JOIN archive_exports e ON e.id = i.export_id
                WHERE i.message_id = m.id AND i.hash = m.hash AND e.verified_at IS NOT NULL)
            ORDER BY m.seq
            """) { $0.text(0) }
    }

    /// Every message of a letter's tree: whether a verified export holds it with the same
    /// header hash (`exported`), whether one of the exports in `intactExports` (those whose
    /// file is still what verified) does (`intact`), and its state.
    func treeArchiveState(letterID: String, intactExports: [Int64]) throws
        -> [(id: String, seq: Int64, exported: Bool, intact: Bool, state: String)] {
        let intactJSON = "[" + intactExports.map(String.init).joined(separator: ",") + "]"
        return try db.query("""
            SELECT m.id, m.seq,
                EXISTS (SELECT 1 FROM archive_items i JOIN archive_exports e ON e.id = i.export_id
                        WHERE i.message_id = m.id AND i.hash = m.hash AND e.verified_at IS NOT NULL),
                EXISTS (SELECT 1 FROM archive_items i JOIN archive_exports e ON e.id = i.export_id
                        WHERE i.message_id = m.id AND i.hash = m.hash AND e.verified_at IS NOT NULL
                          AND e.id IN (SELECT value FROM json_each(?2))),
                m.state
            FROM messages m WHERE m.letter_id = ?1 ORDER BY m.seq
            """, letterID, intactJSON) { ($0.text(0), $0.int(1), $0.int(2) != 0, $0.int(3) != 0, $0.text(4)) }
    }

    /// Deletes one letter's tree from the live store: its messages, attachments, delivery
    /// rows, disposition holders and index rows. Agenda rows stay (the register is permanent
    /// and its numbers must never be given again); evidence stays (one acceptance or receipt
    /// can cover letters that are not pruned). Call inside a transaction.
    func deleteTree(seqs: [Int64], letterID: String) throws {
        for seq in seqs {
            try db.run("DELETE FROM search_index WHERE rowid = ?", seq)
            try db.run("DELETE FROM attachments WHERE message_seq = ?", seq)
            try db.run("DELETE FROM deliveries WHERE message_seq = ?", seq)
            try db.run("DELETE FROM messages WHERE seq = ?", seq)
        }
        try db.run("DELETE FROM disposition_holders WHERE letter_id = ?", letterID)
    }
}
