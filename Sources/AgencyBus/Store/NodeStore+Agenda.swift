import Foundation

extension NodeStore {
    // MARK: - Agenda numbers

    /// Gives a stored letter the next number of its direction in the year of `at` (agency
    /// zone), unless it has one for that direction already.
    ///
    /// Gapless and crash-safe by construction: the number is `MAX + 1` computed and inserted
    /// by one statement inside the transaction that stores (or receives) the letter. Only one
    /// connection writes at a time (`BEGIN IMMEDIATE`), so two letters cannot read the same
    /// maximum; a crash before `COMMIT` rolls the number back together with the letter, and
    /// the redelivered letter takes it again. `UNIQUE (direction, year, number)` would turn
    /// any bug into a failed transaction, never into a duplicate.
    ///
    /// Only letters are numbered. A disposition is not entered in the register: it is
    /// written on the letter's disposition sheet and listed by the agenda under the letter's
    /// number (as *lembar disposisi* are in paper registries).
    /// `decoded`: the stored letter's header when the caller has it (saves two JSON decodes).
    func assignAgenda(messageID id: String, direction: String, at: Timestamp, letter decoded: Letter? = nil) throws {
        guard try db.queryOne("SELECT 1 FROM agenda WHERE message_id = ? AND direction = ?", id, direction, map: { _ in true }) == nil
        else { return }
        let letter: Letter?, common: CommonHeader?
        if let decoded {
            (letter, common) = (decoded, nil)
        } else {
            guard let header = try db.queryOne("SELECT header FROM messages WHERE id = ? AND kind = 'letter'", id, map: { $0.blob(0) })
            else { return }
            // Stored letters were validated (incoming) or composed here (outgoing); a header that
            // does not decode still gets its number, with what the common header says.
            letter = try? JSONDecoder().decode(Letter.self, from: header)
            common = letter == nil ? try? JSONDecoder().decode(CommonHeader.self, from: header) : nil
        }
        let recipients = letter.map { ($0.to + $0.cc).joined(separator: ",") } ?? ""
        try db.run("""
            INSERT INTO agenda (direction, year, number, message_id, assigned_at, letter_number, letter_date, sender,
                                recipients, subject, classification, urgency)
            SELECT ?1, ?2, COALESCE(MAX(number), 0) + 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
            FROM agenda WHERE direction = ?1 AND year = ?2
            """, direction, calendar.year(of: at), id, at.milliseconds, letter?.number ?? "", letter?.date ?? "",
                   letter?.from ?? common?.from ?? "", recipients, letter?.subject ?? "", letter?.classification ?? "",
                   letter?.urgency ?? "")
    }

    /// The agenda numbers of one letter: IN first, then OUT. Empty for anything else.
    public func agendaNumbers(messageID id: String) throws -> [AgendaNumber] {
        try db.query("SELECT direction, year, number FROM agenda WHERE message_id = ? ORDER BY direction", id) {
            AgendaNumber(direction: $0.text(0), year: Int($0.int(1)), number: Int($0.int(2)))
        }
    }

    /// The number a list shows for a letter: IN when this node received it, else OUT.
    public func agendaNumber(messageID id: String) throws -> AgendaNumber? {
        try agendaNumbers(messageID: id).first
    }

    /// One line of the register.
    public struct AgendaRow: Sendable, Equatable {
        public let number: AgendaNumber
        public let messageID: String
        public let assignedAt: Timestamp
        public let letterNumber: String
        public let letterDate: String
        public let sender: String
        /// `to` then `cc`.
        public let recipients: [String]
        public let subject: String
        public let classification: String
        public let urgency: String
    }

    /// The register between two instants (`[start, end)`, milliseconds), IN before OUT, each
    /// in number order. `direction` nil for both.
    public func agendaRows(from start: Int64, to end: Int64, direction: String? = nil) throws -> [AgendaRow] {
        try db.query("""
            SELECT direction, year, number, message_id, assigned_at, letter_number, letter_date, sender, recipients,
                   subject, classification, urgency
            FROM agenda WHERE assigned_at >= ?1 AND assigned_at < ?2 AND (?3 IS NULL OR direction = ?3)
            ORDER BY direction, year, number
            """, start, end, direction) { r in
            AgendaRow(number: AgendaNumber(direction: r.text(0), year: Int(r.int(1)), number: Int(r.int(2))),
                      messageID: r.text(3), assignedAt: Timestamp(milliseconds: r.int(4)), letterNumber: r.text(5),
                      letterDate: r.text(6), sender: r.text(7),
                      recipients: r.text(8).split(separator: ",").map(String.init), subject: r.text(9),
                      classification: r.text(10), urgency: r.text(11))
        }
    }

    // MARK: - Holders of dispositions

    /// Rank of a status, so only a more advanced one replaces what a holder reported.
    static let statusRankSQL = "CASE %@ WHEN 'done' THEN 3 WHEN 'in-progress' THEN 2 WHEN 'read' THEN 1 ELSE 0 END"

    /// One row per addressee of a disposition, with the statuses already in the store (a
    /// status can be stored before the disposition it reports on only in odd orders, but it
    /// costs one query to be sure).
    func addHolders(_ d: Disposition) throws {
        for holder in d.to {
            try db.run("INSERT OR IGNORE INTO disposition_holders (disposition_id, letter_id, holder, due) VALUES (?, ?, ?, ?)",
                       d.id, d.letter, holder, d.due)
        }
        for st in try statuses(item: d.id) { try applyStatus(st) }
    }

    /// Moves the holder's progress forward (read → in-progress → done; never back). The
    /// status counts for the addressee it was signed by, or for the bare agency address when
    /// the disposition named the agency without a unit.
    func applyStatus(_ st: StatusUpdate) throws {
        let agency = String(st.from.split(separator: "/").first ?? "")
        let rank = { (x: String) in String(format: Self.statusRankSQL, x) }
        try db.run("""
            UPDATE disposition_holders SET status = ?1, status_at = ?2
            WHERE disposition_id = ?3 AND (holder = ?4 OR holder = ?5) AND \(rank("status")) < \(rank("?1"))
            """, st.status, st.created, st.item, st.from, agency)
    }

    /// One addressee of a disposition and how far it got.
    public struct HolderRow: Sendable, Equatable {
        public let dispositionID: String
        public let letterID: String
        public let holder: String
        public let due: String
        /// `""` (nothing reported yet), `read`, `in-progress` or `done`.
        public let status: String
        public let statusAt: String?
        /// The disposer (the disposition's `from`), its instructions and the letter's subject.
        public let from: String
        public let instructions: [String]
        public let subject: String
    }

    /// Holders with a due date in `[from, to]` (any status), and holders still open with a
    /// due date before `from` (overdue), ordered by due date, disposition, holder.
    public func dueHolders(from: String, to: String) throws -> [HolderRow] {
        let rows = try db.query("""
            SELECT h.disposition_id, h.letter_id, h.holder, h.due, h.status, h.status_at, m.header, m.subject
            FROM disposition_holders h JOIN messages m ON m.id = h.disposition_id
            WHERE h.due IS NOT NULL AND h.due >= ?1 AND h.due <= ?2
            UNION ALL
            SELECT h.disposition_id, h.letter_id, h.holder, h.due, h.status, h.status_at, m.header, m.subject
            FROM disposition_holders h JOIN messages m ON m.id = h.disposition_id
            WHERE h.due IS NOT NULL AND h.status <> 'done' AND h.due < ?1
            ORDER BY 4, 1, 3
            """, from, to) { r -> HolderRow in
            let d = try? JSONDecoder().decode(Disposition.self, from: r.blob(6))
            return HolderRow(dispositionID: r.text(0), letterID: r.text(1), holder: r.text(2), due: r.text(3), status: r.text(4),
                             statusAt: r.optionalText(5), from: d?.from ?? "", instructions: d?.instructions ?? [], subject: r.text(7))
        }
        return rows
    }

    /// Every holder row of a letter's dispositions (for deciding whether it is closed).
    public func holders(letterID: String) throws -> [(holder: String, status: String, statusAt: String?)] {
        try db.query("SELECT holder, status, status_at FROM disposition_holders WHERE letter_id = ? ORDER BY disposition_id, holder",
                     letterID) { ($0.text(0), $0.text(1), $0.optionalText(2)) }
    }
}
