import Foundation

/// The daily agenda (*agenda harian*) of a node for one day or a range of days in the
/// agency's time zone: the letters registered (agenda number, time, number and date of the
/// letter, sender or recipients, subject, classification, urgency), and the dispositions due
/// in the period or overdue before it that are not done, with who holds them.
///
/// `build` reads the store; `text`, `csv` and `jsonLines` only format (pure), so the
/// command's output can be compared whole in tests.
public struct AgendaReport: Sendable {
    public struct Letter: Sendable, Equatable {
        public let row: NodeStore.AgendaRow
        /// `YYYY-MM-DD` and `HH:MM` of registration in the agency's zone.
        public let day: String
        public let time: String
    }

    public struct DispositionDue: Sendable, Equatable {
        public let holder: NodeStore.HolderRow
        /// The agenda number of the letter the disposition is on, when this node has it.
        public let letterAgendaNumber: AgendaNumber?
        /// Due before today (agency zone) and not done.
        public let overdue: Bool
    }

    public let agency: String
    public let zone: String
    public let from: String
    public let to: String
    public let today: String
    /// `in`, `out`, or nil for both. Applies to the letters, not to the dispositions.
    public let direction: String?
    public let letters: [Letter]
    public let dispositions: [DispositionDue]

    public var isOneDay: Bool { from == to }

    /// Reads the register for `from`…`to` (both `YYYY-MM-DD`, in the store's calendar zone).
    public static func build(store: NodeStore, agency: String, from: String, to: String, direction: String?) throws -> AgendaReport {
        let calendar = store.calendar
        guard let start = calendar.range(of: from)?.start, let end = calendar.range(of: to)?.end else {
            throw NodeError.data("date: '\(from)'…'\(to)' is not a range of dates YYYY-MM-DD")
        }
        let letters = try store.agendaRows(from: start, to: end, direction: direction).map {
            Letter(row: $0, day: calendar.day(of: $0.assignedAt), time: calendar.time(of: $0.assignedAt))
        }
        let today = calendar.today()
        var numbers: [String: AgendaNumber?] = [:]
        var due: [DispositionDue] = []
        for h in try store.dueHolders(from: from, to: to) {
            if numbers[h.letterID] == nil { numbers[h.letterID] = .some(try store.agendaNumber(messageID: h.letterID)) }
            due.append(DispositionDue(holder: h, letterAgendaNumber: numbers[h.letterID] ?? nil,
                                      overdue: h.due < today && h.status != "done"))
        }
        return AgendaReport(agency: agency, zone: calendar.zoneName, from: from, to: to, today: today, direction: direction,
                            letters: letters, dispositions: due)
    }

    static func statusText(_ s: String) -> String {
        switch s {
        case "": return "no report"
        case "in-progress": return "in progress"
        default: return s
        }
    }

    // MARK: - Formats

    /// The register as a person reads it: a title, the IN and OUT letters, the dispositions.
    public func text() -> String {
        var lines = ["Agenda of \(agency) for \(isOneDay ? from : "\(from) to \(to)") (\(zone))"]
        for dir in ["in", "out"] where direction == nil || direction == dir {
            let rows = letters.filter { $0.row.number.direction == dir }
            lines += ["", "\(dir.uppercased()) (\(rows.count))"]
            guard !rows.isEmpty else { lines.append("(none)"); continue }
            let header = ["AGENDA", "TIME", "NUMBER", "DATE", dir == "in" ? "FROM" : "TO", "SUBJECT", "SIFAT", "URGENCY"]
            lines += TextTable.render(header: header, rows: rows.map { l in
                [l.row.number.text, isOneDay ? l.time : "\(l.day) \(l.time)", l.row.letterNumber, l.row.letterDate,
                 dir == "in" ? l.row.sender : TextTable.clip(l.row.recipients.joined(separator: ", "), 40),
                 TextTable.clip(l.row.subject, 60), l.row.classification, l.row.urgency]
            })
        }
        lines += ["", "DISPOSITIONS DUE OR OVERDUE (\(dispositions.count))"]
        if dispositions.isEmpty {
            lines.append("(none)")
        } else {
            lines += TextTable.render(header: ["DUE", "AGENDA", "DISPOSITION", "HOLDER", "STATUS", "INSTRUCTIONS", "SUBJECT", ""],
                                      rows: dispositions.map { d in
                [d.holder.due, d.letterAgendaNumber?.text ?? "-", d.holder.dispositionID, d.holder.holder,
                 Self.statusText(d.holder.status), d.holder.instructions.joined(separator: ","),
                 TextTable.clip(d.holder.subject, 40), d.overdue ? "OVERDUE" : ""]
            })
        }
        return lines.joined(separator: "\n")
    }

    static let csvHeader = ["kind", "agendaNumber", "day", "time", "direction", "id", "number", "date", "from", "to",
                            "subject", "classification", "urgency", "disposition", "due", "holder", "status",
                            "instructions", "overdue"]

    /// RFC 4180 with a header row: one record per letter, then one per disposition holder
    /// (`kind` tells them apart; the columns a kind does not have are empty).
    public func csv() -> String {
        var rows: [[String]] = letters.map { l in
            ["letter", l.row.number.text, l.day, l.time, l.row.number.direction, l.row.messageID, l.row.letterNumber,
             l.row.letterDate, l.row.sender, l.row.recipients.joined(separator: ","), l.row.subject, l.row.classification,
             l.row.urgency, "", "", "", "", "", ""]
        }
        rows += dispositions.map { d in
            ["disposition", d.letterAgendaNumber?.text ?? "", "", "", "", d.holder.letterID, "", "", d.holder.from, "",
             d.holder.subject, "", "", d.holder.dispositionID, d.holder.due, d.holder.holder,
             d.holder.status.isEmpty ? "none" : d.holder.status, d.holder.instructions.joined(separator: ","),
             d.overdue ? "true" : "false"]
        }
        return CSV.document(header: Self.csvHeader, rows: rows)
    }

    /// One object per line. Every object's `id` is the letter's id and `agendaNumber` its
    /// agenda number; a disposition's own id is in `disposition`.
    public func jsonObjects() -> [[String: Any]] {
        var out: [[String: Any]] = letters.map { l in
            ["kind": "letter", "id": l.row.messageID, "agendaNumber": l.row.number.text, "direction": l.row.number.direction,
             "day": l.day, "time": l.time, "registeredAt": l.row.assignedAt.text, "number": l.row.letterNumber,
             "date": l.row.letterDate, "from": l.row.sender, "to": l.row.recipients, "subject": l.row.subject,
             "classification": l.row.classification, "urgency": l.row.urgency]
        }
        for d in dispositions {
            var o: [String: Any] = ["kind": "disposition", "id": d.holder.letterID, "disposition": d.holder.dispositionID,
                                    "due": d.holder.due, "holder": d.holder.holder,
                                    "status": d.holder.status.isEmpty ? "none" : d.holder.status,
                                    "from": d.holder.from, "instructions": d.holder.instructions,
                                    "subject": d.holder.subject, "overdue": d.overdue]
            if let n = d.letterAgendaNumber { o["agendaNumber"] = n.text }
            if let at = d.holder.statusAt { o["statusAt"] = at }
            out.append(o)
        }
        return out
    }

    /// `jsonObjects` encoded as `bus-cli` prints them: compact, keys sorted.
    public func jsonLines() -> [String] {
        jsonObjects().map { JSONLine.encode($0) }
    }
}
