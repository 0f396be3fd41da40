import Foundation
import Testing
@testable import AgencyBus

// The registry (issue 6) in-process: agenda numbers, the daily agenda in the agency's time
// zone, search folding, and dates that follow the agency's zone. The store runs on a temp
// file with a clock the test sets, so every instant (and every day boundary) is known.
// Real processes: RegistryIntegrationTests.swift.

/// A clock the test moves by hand (the registry stamps agenda numbers with it).
final class RegistryClock: @unchecked Sendable {
    // @unchecked Sendable: the only state is `milliseconds`, read and written under `lock`.
    private let lock = NSLock()
    private var milliseconds: Int64 = 0

    /// Sets the clock to an RFC 3339 UTC instant such as `2026-03-09T17:00:00Z`.
    func set(_ text: String) {
        guard let t = Timestamp(text: text) else { preconditionFailure("bad instant \(text) in a test") }
        lock.lock(); milliseconds = t.milliseconds; lock.unlock()
    }

    func now() -> Timestamp {
        lock.lock(); defer { lock.unlock() }
        return Timestamp(milliseconds: milliseconds)
    }

    func calendar(_ zone: String) -> AgencyCalendar {
        AgencyCalendar(identifier: zone, now: { [self] in self.now() })
    }
}

/// A node store in a temp dir with a fixed Asia/Jakarta clock, and helpers that store
/// letters, dispositions and statuses as the node does (one transaction each).
private final class RegistryStore {
    let directory: TemporaryDirectory
    let store: NodeStore
    let clock = RegistryClock()
    let key = SecretKey.generate()

    init(zone: String = "Asia/Jakarta") throws {
        directory = try TemporaryDirectory("agencybus-registry")
        store = try NodeStore(path: directory.file("inbox.sqlite"))
        try store.prepareRegistry(calendar: clock.calendar(zone))
    }

    @discardableResult
    func letter(at instant: String, direction: String, number: String, date: String, from: String, to: [String],
                cc: [String] = [], subject: String, body: String = "Dengan hormat.",
                classification: Classification = .biasa, urgency: Urgency = .biasa) throws -> Letter {
        clock.set(instant)
        let l = Letter(id: MessageID.generate(at: clock.now()), from: try Address(parsing: from), created: clock.now(),
                       number: number, date: date, to: try to.map { try Address(parsing: $0) },
                       cc: try cc.map { try Address(parsing: $0) }, subject: subject, body: body,
                       classification: classification, urgency: urgency, replyTo: nil, attachments: [])
        let envelope = try Envelope.seal(l, with: key)
        _ = try store.db.inTransaction {
            try store.insert(envelope, direction: direction, state: direction == "in" ? "stored" : "queued", subject: l.subject,
                             attachments: l.attachments, recipients: direction == "out" ? l.recipientAgencies : [])
        }
        return l
    }

    @discardableResult
    func disposition(at instant: String, on letter: Letter, from: String, to: [String], instructions: [Instruction],
                     note: String = "", due: String?) throws -> Disposition {
        clock.set(instant)
        let d = Disposition(id: MessageID.generate(at: clock.now()), from: try Address(parsing: from), created: clock.now(),
                            letter: letter.id, parent: nil, to: try to.map { try Address(parsing: $0) },
                            instructions: instructions, note: note, due: due, urgency: .biasa)
        let envelope = try Envelope.seal(d, with: key)
        _ = try store.db.inTransaction {
            try store.insert(envelope, direction: "in", state: "stored", subject: letter.subject, letterID: letter.id,
                             parentID: nil, due: due)
        }
        return d
    }

    @discardableResult
    func status(at instant: String, of d: Disposition, from: String, _ value: StatusUpdate.Value, note: String? = nil) throws -> StatusUpdate {
        clock.set(instant)
        let st = StatusUpdate(id: MessageID.generate(at: clock.now()), from: try Address(parsing: from), created: clock.now(),
                              item: d.id, letter: d.letter, to: String(d.from.split(separator: "/")[0]), status: value, note: note)
        let envelope = try Envelope.seal(st, with: key)
        _ = try store.db.inTransaction {
            try store.insert(envelope, direction: "in", state: "stored", subject: "", letterID: d.letter, parentID: d.id)
        }
        return st
    }

    /// Every agenda row as `number text → message id`, in number order.
    func agenda() throws -> [(String, String)] {
        try store.db.query("SELECT direction, year, number, message_id FROM agenda ORDER BY direction, year, number") {
            (AgendaNumber(direction: $0.text(0), year: Int($0.int(1)), number: Int($0.int(2))).text, $0.text(3))
        }
    }
}

@Suite("Registry (in-process)")
struct RegistryTests {
    // MARK: - Agenda number text

    @Test func agendaNumberTextIsZeroPaddedAndParsesBack() {
        #expect(AgendaNumber(direction: "in", year: 2026, number: 412).text == "0412/IN/2026")
        #expect(AgendaNumber(direction: "out", year: 2026, number: 7).text == "0007/OUT/2026")
        #expect(AgendaNumber(direction: "in", year: 2026, number: 12034).text == "12034/IN/2026")
        #expect(AgendaNumber(text: "0412/IN/2026") == AgendaNumber(direction: "in", year: 2026, number: 412))
        #expect(AgendaNumber(text: "12034/OUT/2027") == AgendaNumber(direction: "out", year: 2027, number: 12034))
        for bad in ["412/IN/2026", "0412/in/2026", "0000/IN/2026", "0412/IN/26", "0412/X/2026", "0412/IN/2026/1", "", "abcd/IN/2026"] {
            #expect(AgendaNumber(text: bad) == nil, "\(bad)")
        }
    }

    // MARK: - Numbers: per direction and year of the agency's zone, once, rolled back with the letter

    @Test func numbersFollowTheJakartaYearAndAreGivenOnceAndRolledBackWithTheirLetter() throws {
        let r = try RegistryStore()
        let a = try r.letter(at: "2026-12-31T16:30:00Z", direction: "in", number: "1", date: "2026-12-31", from: "kemenpanrb",
                             to: ["pemkot-semarang"], subject: "Akhir tahun")
        // 17:30Z is already 1 January 2027 in Jakarta (UTC+7): the first IN number of 2027.
        let b = try r.letter(at: "2026-12-31T17:30:00Z", direction: "in", number: "2", date: "2027-01-01", from: "bappenas",
                             to: ["pemkot-semarang"], subject: "Awal tahun")
        let c = try r.letter(at: "2026-12-31T17:45:00Z", direction: "out", number: "3", date: "2027-01-01",
                             from: "pemkot-semarang/setda", to: ["kemenpanrb"], subject: "Balasan")
        #expect(try r.agenda().map(\.0) == ["0001/IN/2026", "0001/IN/2027", "0001/OUT/2027"])
        #expect(try r.agenda().map(\.1) == [a.id, b.id, c.id])

        // The same letter again (redelivery) is not stored twice and gets no second number.
        let again = try #require(try r.store.envelope(id: b.id))
        let storedAgain = try r.store.db.inTransaction {
            try r.store.insert(again, direction: "in", state: "stored", subject: b.subject)
        }
        #expect(!storedAgain)
        // A letter it sent to itself, once received, has an IN number too (and keeps its OUT one).
        try r.store.db.inTransaction { try r.store.markReceived(id: c.id) }
        try r.store.db.inTransaction { try r.store.markReceived(id: c.id) }
        #expect(try r.store.agendaNumbers(messageID: c.id).map(\.text) == ["0002/IN/2027", "0001/OUT/2027"])

        // A storing transaction that fails after the number was taken rolls the number back
        // with the letter: the next letter gets it, no gap.
        struct Crash: Error {}
        r.clock.set("2027-01-02T01:00:00Z")
        let lost = Fixtures.letter(from: "anri", to: ["pemkot-semarang"], created: r.clock.now())
        let lostEnvelope = try Envelope.seal(lost, with: r.key)
        #expect(throws: Crash.self) {
            try r.store.db.inTransaction {
                try r.store.insert(lostEnvelope, direction: "in", state: "stored", subject: lost.subject)
                throw Crash()
            }
        }
        #expect(try r.store.message(id: lost.id) == nil)
        let d = try r.letter(at: "2027-01-02T02:00:00Z", direction: "in", number: "4", date: "2027-01-02", from: "anri",
                             to: ["pemkot-semarang"], subject: "Setelah gagal")
        #expect(try r.store.agendaNumbers(messageID: d.id).map(\.text) == ["0003/IN/2027"])
        #expect(try r.agenda().count == 5)
    }

    // MARK: - The daily agenda, exactly

    @Test func dailyAgendaListsExactlyTheLettersOfTheJakartaDayAndTheDispositionsDue() throws {
        let r = try RegistryStore()
        let semarang = "pemkot-semarang"
        // 23:59:30 on 9 March in Jakarta: not on the 10th.
        let l1 = try r.letter(at: "2026-03-09T16:59:30Z", direction: "in", number: "B/101/KEMENPANRB/III/2026", date: "2026-03-09",
                              from: "kemenpanrb/setmen", to: ["\(semarang)/walikota"], subject: "Undangan Rapat Koordinasi SPBE",
                              urgency: .segera)
        // Midnight in Jakarta (17:00Z): the first minute of the 10th.
        let l2 = try r.letter(at: "2026-03-09T17:00:00Z", direction: "in", number: "005/120/BAPPENAS/2026", date: "2026-03-10",
                              from: "bappenas/settama", to: ["\(semarang)/walikota"], cc: ["\(semarang)/bappeda"],
                              subject: "Permintaan Data RPJMD, Tahap 2", classification: .terbatas, urgency: .sangatSegera)
        let l3 = try r.letter(at: "2026-03-10T09:15:00Z", direction: "out", number: "800/77/DISKOMINFO/2026", date: "2026-03-10",
                              from: "\(semarang)/diskominfo", to: ["kemenpanrb", "bappenas/pusdatin"],
                              subject: "Laporan \"Satu Data\" Semarang")
        let l4 = try r.letter(at: "2026-03-10T16:59:59Z", direction: "in", number: "KN.01/55/2026", date: "2026-03-10",
                              from: "anri", to: [semarang], subject: "Pembinaan Kearsipan", classification: .rahasia)
        // Midnight again: the 11th.
        let l5 = try r.letter(at: "2026-03-10T17:00:00Z", direction: "in", number: "X/1/2026", date: "2026-03-11",
                              from: "kemenpanrb", to: [semarang], subject: "Surat hari berikutnya")

        // Dispositions: due on the day (one holder done, one not), overdue and open, due later,
        // overdue but done.
        let d1 = try r.disposition(at: "2026-03-10T01:00:00Z", on: l2, from: "\(semarang)/walikota",
                                   to: ["\(semarang)/setda", "\(semarang)/diskominfo"],
                                   instructions: [.tindakLanjuti, .siapkanJawaban], note: "Segera", due: "2026-03-10")
        let s1 = try r.status(at: "2026-03-10T03:00:00Z", of: d1, from: "\(semarang)/setda", .done, note: "Sudah")
        let d2 = try r.disposition(at: "2026-03-10T01:05:00Z", on: l1, from: "\(semarang)/walikota", to: ["\(semarang)/bappeda"],
                                   instructions: [.pelajari], due: "2026-03-08")
        try r.disposition(at: "2026-03-10T01:10:00Z", on: l4, from: "\(semarang)/walikota", to: ["\(semarang)/disarpus"],
                          instructions: [.arsipkan], due: "2026-03-12")
        let d4 = try r.disposition(at: "2026-03-10T01:15:00Z", on: l1, from: "\(semarang)/walikota", to: ["\(semarang)/setda"],
                                   instructions: [.hadiri], due: "2026-03-05")
        try r.status(at: "2026-03-10T01:20:00Z", of: d4, from: "\(semarang)/setda", .done)

        r.clock.set("2026-03-10T05:00:00Z")  // noon in Jakarta on the 10th
        let report = try AgendaReport.build(store: r.store, agency: semarang, from: "2026-03-10", to: "2026-03-10", direction: nil)
        #expect(report.today == "2026-03-10")
        #expect(report.zone == "Asia/Jakarta")

        let letters: [[String: Any]] = [
            ["kind": "letter", "id": l2.id, "agendaNumber": "0002/IN/2026", "direction": "in", "day": "2026-03-10", "time": "00:00",
             "registeredAt": "2026-03-09T17:00:00.000Z", "number": "005/120/BAPPENAS/2026", "date": "2026-03-10",
             "from": "bappenas/settama", "to": ["\(semarang)/walikota", "\(semarang)/bappeda"],
             "subject": "Permintaan Data RPJMD, Tahap 2", "classification": "terbatas", "urgency": "sangat-segera"],
            ["kind": "letter", "id": l4.id, "agendaNumber": "0003/IN/2026", "direction": "in", "day": "2026-03-10", "time": "23:59",
             "registeredAt": "2026-03-10T16:59:59.000Z", "number": "KN.01/55/2026", "date": "2026-03-10", "from": "anri",
             "to": [semarang], "subject": "Pembinaan Kearsipan", "classification": "rahasia", "urgency": "biasa"],
            ["kind": "letter", "id": l3.id, "agendaNumber": "0001/OUT/2026", "direction": "out", "day": "2026-03-10", "time": "16:15",
             "registeredAt": "2026-03-10T09:15:00.000Z", "number": "800/77/DISKOMINFO/2026", "date": "2026-03-10",
             "from": "\(semarang)/diskominfo", "to": ["kemenpanrb", "bappenas/pusdatin"],
             "subject": "Laporan \"Satu Data\" Semarang", "classification": "biasa", "urgency": "biasa"],
        ]
        let dispositions: [[String: Any]] = [
            ["kind": "disposition", "id": l1.id, "agendaNumber": "0001/IN/2026", "disposition": d2.id, "due": "2026-03-08",
             "holder": "\(semarang)/bappeda", "status": "none", "from": "\(semarang)/walikota", "instructions": ["pelajari"],
             "subject": l1.subject, "overdue": true],
            ["kind": "disposition", "id": l2.id, "agendaNumber": "0002/IN/2026", "disposition": d1.id, "due": "2026-03-10",
             "holder": "\(semarang)/diskominfo", "status": "none", "from": "\(semarang)/walikota",
             "instructions": ["tindak-lanjuti", "siapkan-jawaban"], "subject": l2.subject, "overdue": false],
            ["kind": "disposition", "id": l2.id, "agendaNumber": "0002/IN/2026", "disposition": d1.id, "due": "2026-03-10",
             "holder": "\(semarang)/setda", "status": "done", "statusAt": s1.created, "from": "\(semarang)/walikota",
             "instructions": ["tindak-lanjuti", "siapkan-jawaban"], "subject": l2.subject, "overdue": false],
        ]
        #expect(report.jsonLines() == (letters + dispositions).map { JSONLine.encode($0) })

        let csv = [
            "kind,agendaNumber,day,time,direction,id,number,date,from,to,subject,classification,urgency,disposition,due,holder,status,instructions,overdue",
            "letter,0002/IN/2026,2026-03-10,00:00,in,\(l2.id),005/120/BAPPENAS/2026,2026-03-10,bappenas/settama,\"\(semarang)/walikota,\(semarang)/bappeda\",\"Permintaan Data RPJMD, Tahap 2\",terbatas,sangat-segera,,,,,,",
            "letter,0003/IN/2026,2026-03-10,23:59,in,\(l4.id),KN.01/55/2026,2026-03-10,anri,\(semarang),Pembinaan Kearsipan,rahasia,biasa,,,,,,",
            "letter,0001/OUT/2026,2026-03-10,16:15,out,\(l3.id),800/77/DISKOMINFO/2026,2026-03-10,\(semarang)/diskominfo,\"kemenpanrb,bappenas/pusdatin\",\"Laporan \"\"Satu Data\"\" Semarang\",biasa,biasa,,,,,,",
            "disposition,0001/IN/2026,,,,\(l1.id),,,\(semarang)/walikota,,Undangan Rapat Koordinasi SPBE,,,\(d2.id),2026-03-08,\(semarang)/bappeda,none,pelajari,true",
            "disposition,0002/IN/2026,,,,\(l2.id),,,\(semarang)/walikota,,\"Permintaan Data RPJMD, Tahap 2\",,,\(d1.id),2026-03-10,\(semarang)/diskominfo,none,\"tindak-lanjuti,siapkan-jawaban\",false",
            "disposition,0002/IN/2026,,,,\(l2.id),,,\(semarang)/walikota,,\"Permintaan Data RPJMD, Tahap 2\",,,\(d1.id),2026-03-10,\(semarang)/setda,done,\"tindak-lanjuti,siapkan-jawaban\",false",
        ].map { $0 + "\r\n" }.joined()
        #expect(report.csv() == csv)

        var text = ["Agenda of \(semarang) for 2026-03-10 (Asia/Jakarta)", "", "IN (2)"]
        text += TextTable.render(header: ["AGENDA", "TIME", "NUMBER", "DATE", "FROM", "SUBJECT", "SIFAT", "URGENCY"], rows: [
            ["0002/IN/2026", "00:00", "005/120/BAPPENAS/2026", "2026-03-10", "bappenas/settama", "Permintaan Data RPJMD, Tahap 2", "terbatas", "sangat-segera"],
            ["0003/IN/2026", "23:59", "KN.01/55/2026", "2026-03-10", "anri", "Pembinaan Kearsipan", "rahasia", "biasa"],
        ])
        text += ["", "OUT (1)"]
        text += TextTable.render(header: ["AGENDA", "TIME", "NUMBER", "DATE", "TO", "SUBJECT", "SIFAT", "URGENCY"], rows: [
            ["0001/OUT/2026", "16:15", "800/77/DISKOMINFO/2026", "2026-03-10", "kemenpanrb, bappenas/pusdatin", "Laporan \"Satu Data\" Semarang", "biasa", "biasa"],
        ])
        text += ["", "DISPOSITIONS DUE OR OVERDUE (3)"]
        text += TextTable.render(header: ["DUE", "AGENDA", "DISPOSITION", "HOLDER", "STATUS", "INSTRUCTIONS", "SUBJECT", ""], rows: [
            ["2026-03-08", "0001/IN/2026", d2.id, "\(semarang)/bappeda", "no report", "pelajari", "Undangan Rapat Koordinasi SPBE", "OVERDUE"],
            ["2026-03-10", "0002/IN/2026", d1.id, "\(semarang)/diskominfo", "no report", "tindak-lanjuti,siapkan-jawaban", "Permintaan Data RPJMD, Tahap 2", ""],
            ["2026-03-10", "0002/IN/2026", d1.id, "\(semarang)/setda", "done", "tindak-lanjuti,siapkan-jawaban", "Permintaan Data RPJMD, Tahap 2", ""],
        ])
        #expect(report.text() == text.joined(separator: "\n"))

        // The neighbouring days split at Jakarta's midnight, not UTC's.
        let ninth = try AgendaReport.build(store: r.store, agency: semarang, from: "2026-03-09", to: "2026-03-09", direction: nil)
        #expect(ninth.letters.map(\.row.messageID) == [l1.id])
        #expect(ninth.letters.map(\.time) == ["23:59"])
        let eleventh = try AgendaReport.build(store: r.store, agency: semarang, from: "2026-03-11", to: "2026-03-11", direction: "in")
        #expect(eleventh.letters.map(\.row.number.text) == ["0004/IN/2026"])
        #expect(eleventh.letters.map(\.row.messageID) == [l5.id])
        // A range shows the day with the time; --direction out keeps only OUT letters.
        let range = try AgendaReport.build(store: r.store, agency: semarang, from: "2026-03-09", to: "2026-03-11", direction: nil)
        #expect(range.letters.map(\.row.messageID) == [l1.id, l2.id, l4.id, l5.id, l3.id])
        #expect(range.jsonObjects().first?["time"] as? String == "23:59" && range.jsonObjects().first?["day"] as? String == "2026-03-09")
        #expect(range.text().contains("2026-03-10 00:00  005/120/BAPPENAS/2026"))
        let outOnly = try AgendaReport.build(store: r.store, agency: semarang, from: "2026-03-09", to: "2026-03-11", direction: "out")
        #expect(outOnly.letters.map(\.row.messageID) == [l3.id])
        #expect(!outOnly.text().contains("IN ("))
    }

    // MARK: - Dates of a node follow the agency's zone

    /// A letter composed without --date is dated today in the agency's zone, the day its OUT
    /// number is registered on (not the machine's UTC day).
    @Test func aComposedLetterIsDatedTodayInTheAgencyZone() throws {
        let dir = try TemporaryDirectory("agencybus-registry-node")
        let nodeDir = dir.file("node")
        _ = try AgencyNode.initialize(directory: nodeDir, agency: "pemkot-semarang", topologyPath: Fixtures.demoTopologyPath)
        let node = try AgencyNode(directory: nodeDir, logger: Logger(label: "test", minimum: .error))
        let clock = RegistryClock()
        try node.store.prepareRegistry(calendar: clock.calendar("Asia/Jakarta"))
        // 20:30 UTC on 9 March is 03:30 on 10 March in Jakarta.
        clock.set("2026-03-09T20:30:00Z")
        let envelope = try node.compose(AgencyNode.Draft(to: [try Address(parsing: "kemenpanrb")], subject: "Laporan", body: "Isi"))
        let letter = try envelope.decode(Letter.self)
        #expect(letter.date == "2026-03-10")
        let report = try AgendaReport.build(store: node.store, agency: node.agency, from: letter.date, to: letter.date, direction: "out")
        #expect(report.letters.map(\.row.messageID) == [envelope.id])
        #expect(report.letters.first?.row.letterDate == report.letters.first?.day)
    }

    // MARK: - Search folding

    @Test func searchFoldsCaseAndDiacriticsAndFindsNotes() throws {
        let r = try RegistryStore()
        let l = try r.letter(at: "2026-03-10T02:00:00Z", direction: "in", number: "B/9/2026", date: "2026-03-10", from: "kemenpanrb",
                             to: ["pemkot-semarang"], subject: "Évaluasi Pelayanan Publik", body: "Mohon laporan pelaksanaan.")
        let d = try r.disposition(at: "2026-03-10T03:00:00Z", on: l, from: "pemkot-semarang/walikota", to: ["pemkot-semarang/setda"],
                                  instructions: [.koordinasikan], note: "Rekonsiliasi data sebelum rapat", due: "2026-03-20")
        for q in ["evaluasi", "EVALUASI", "évaluasi", "pelayanan publik", "PÉLAYANAN", "laporan", "B/9/2026"] {
            let hits = try r.store.search(q)
            #expect(hits.map(\.letterID) == [l.id], "\(q): \(hits.map(\.itemID))")
            #expect(hits.first?.kind == "letter", "\(q)")
        }
        let note = try r.store.search("rékonsiliasi")
        #expect(note.map(\.itemID) == [d.id])
        #expect(note.map(\.letterID) == [l.id])
        #expect(note.first?.kind == "disposition")
        #expect(note.first?.snippet.contains("[Rekonsiliasi]") == true, "\(note.first?.snippet ?? "")")
        var filter = NodeStore.SearchFilter()
        filter.classification = "rahasia"
        #expect(try r.store.search("evaluasi", filter: filter).isEmpty)
        filter = NodeStore.SearchFilter()
        filter.from = "bappenas"
        #expect(try r.store.search("evaluasi", filter: filter).isEmpty)
        #expect(try r.store.search("tidakadakatainidimanapun").isEmpty)
    }
}
