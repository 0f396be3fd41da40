import CSQLite
import Foundation

extension NodeStore {
    // MARK: - Indexing (inside the storing transaction)

    /// Writes the message's row of `search_index` (rowid = its `seq`):
    /// - a letter: subject, body, number, sender (its `from` address), and the text of its
    ///   text attachments (`AttachmentText`);
    /// - a disposition: the disposer as sender, its note and instructions as notes;
    /// - a status update with a note: the reporter as sender, the note as notes.
    /// Dispositions and statuses do not repeat the letter's subject, so a word of the subject
    /// finds the letter once rather than every item of its tree. They carry the letter's id
    /// and classification so results and filters work on letters.
    func index(seq: Int64, envelope: Envelope, subject: String, attachments: [AttachmentInfo]) throws {
        var subjectText = "", body = "", number = "", notes = "", files = ""
        var letterID = envelope.id
        var classification = ""
        switch envelope.kind {
        case "letter":
            guard let letter = try? envelope.decode(Letter.self) else { return }
            subjectText = letter.subject
            body = letter.body
            number = letter.number
            classification = letter.classification
            var budget = AttachmentText.maxIndexedBytes
            var parts: [String] = []
            for (info, data) in zip(attachments.isEmpty ? letter.attachments : attachments, envelope.attachments) where budget > 0 {
                guard var text = AttachmentText.text(mediaType: info.mediaType, data: data) else { continue }
                if text.utf8.count > budget { text = String(decoding: text.utf8.prefix(budget), as: UTF8.self) }
                budget -= text.utf8.count
                parts.append(text)
            }
            files = parts.joined(separator: "\n")
        case "disposition":
            guard let d = try? envelope.decode(Disposition.self) else { return }
            notes = ([d.note] + d.instructions).joined(separator: "\n")
            letterID = d.letter
        case "status":
            guard let st = try? envelope.decode(StatusUpdate.self), let note = st.note, !note.isEmpty else { return }
            notes = note
            letterID = st.letter
        default:
            return
        }
        if envelope.kind != "letter" {
            classification = try db.queryOne("SELECT classification FROM agenda WHERE message_id = ? LIMIT 1", letterID) { $0.text(0) } ?? ""
        }
        // A row for this seq exists only when a backfill meets a message indexed since the
        // migration; replace it rather than fail.
        try db.run("DELETE FROM search_index WHERE rowid = ?", seq)
        try db.run("""
            INSERT INTO search_index (rowid, subject, body, number, sender, notes, attachments, kind, letter_id, classification)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, seq, subjectText, body, number, envelope.common.from, notes, files, envelope.kind, letterID, classification)
    }

    // MARK: - Searching

    public struct SearchHit: Sendable {
        /// The letter the hit belongs to.
        public let letterID: String
        /// The message that matched: the letter, a disposition or a status update on it.
        public let itemID: String
        public let kind: String
        public let sender: String
        /// The letter's subject (stored with every message of its tree).
        public let subject: String
        public let classification: String
        public let storedAt: Timestamp
        /// Matched words between `[` and `]`, with `…` where text was left out.
        public let snippet: String
        /// FTS5 bm25 rank: lower is better (more negative = more relevant).
        public let rank: Double
    }

    public struct SearchFilter: Sendable {
        /// Sender agency (`kemenpanrb`) or address (`kemenpanrb/setmen`).
        public var from: String?
        /// Stored here at or after this instant (milliseconds).
        public var since: Int64?
        public var classification: String?
        public var limit: Int = 20
        public init() {}
    }

    /// Ranked hits for a query (translated by `SearchQuery`; bound, never spliced into SQL).
    /// Throws `NodeError.data` when FTS5 cannot parse the query.
    public func search(_ query: String, filter: SearchFilter = SearchFilter()) throws -> [SearchHit] {
        let match = SearchQuery.translate(query)
        do {
            // Rank first, snippets after: SQLite builds every result row before sorting, and a
            // snippet per match made a common word over 100,000 letters take ~150 ms
            // (`make bench` S6); the inner query ranks on rowids only, the outer one makes
            // snippets for the rows kept.
            return try db.query("""
                WITH top(seq, rank) AS (
                    SELECT s.rowid, s.rank
                    FROM search_index s JOIN messages m ON m.seq = s.rowid
                    WHERE search_index MATCH ?1
                      AND (?2 IS NULL OR m.sender = ?2 OR substr(m.sender, 1, length(?2) + 1) = ?2 || '/')
                      AND (?3 IS NULL OR m.stored_at >= ?3)
                      AND (?4 IS NULL OR s.classification = ?4)
                    ORDER BY s.rank, m.seq
                    LIMIT ?5)
                SELECT s.letter_id, m.id, m.kind, m.sender, m.subject, s.classification, m.stored_at,
                       snippet(search_index, -1, '[', ']', '…', 12), top.rank
                FROM top JOIN search_index s ON s.rowid = top.seq JOIN messages m ON m.seq = top.seq
                WHERE search_index MATCH ?1
                ORDER BY top.rank, m.seq
                """, match, filter.from, filter.since, filter.classification, filter.limit) { r in
                SearchHit(letterID: r.text(0), itemID: r.text(1), kind: r.text(2), sender: r.text(3), subject: r.text(4),
                          classification: r.text(5), storedAt: Timestamp(milliseconds: r.int(6)), snippet: r.text(7),
                          rank: sqliteDouble(r, 8))
            }
        } catch let e as SQLiteError where e.code == SQLITE_ERROR {
            // FTS5 reports a bad query as a plain SQLITE_ERROR ("fts5: syntax error near …",
            // "no such column: …"); anything else is a real store failure.
            throw NodeError.data("QUERY: '\(query)' is not a search FTS5 understands (\(e.message)); "
                                 + "use plain words, \"a phrase\", AND/OR/NOT, prefix*, or column:word")
        }
    }
}

/// Reads a REAL column (the `Row` type offers integers, text and blobs).
private func sqliteDouble(_ r: Row, _ i: Int32) -> Double { Double(r.text(i)) ?? 0 }
