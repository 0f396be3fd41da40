import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import AgencyBus

// The registry (issue 6) with real processes: `bus-broker`, `bus-cli send/subscribe/dispose`,
// and the registry verbs `agenda`, `search`, `archive export/verify/prune`, plus the agenda
// numbers `inbox`, `show` and `trace` print. Every agency of the demo topology is in
// Asia/Jakarta; the machine running the tests may be in another zone (UTC on CI).

private let ministry = "kemenpanrb"
private let city = "pemkot-semarang"
private let zone = "Asia/Jakarta"

/// The real paper used as a text attachment (data/README.md).
private let paperPath = Fixtures.paperPath
/// A word that occurs in the paper (once) and nowhere in the letters' subjects or bodies.
private let paperWord = "diibaratkan"

// MARK: - Helpers

private func expectExit(_ result: CommandResult, _ code: Int32, _ h: Harness, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.exitCode == code, "\(result)\n--- broker log ---\n\(h.brokerLog.suffix(3000))", sourceLocation: sourceLocation)
}

/// Today, or the day of `date`, in Jakarta: what the agencies' registers call the day.
private func jakartaDay(_ date: Date = Date()) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: zone)
    f.dateFormat = "yyyy-MM-dd"
    return f.string(from: date)
}

private func jakartaTime(_ date: Date) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: zone)
    f.dateFormat = "HH:mm"
    return f.string(from: date)
}

/// Sends a letter and requires "accepted"; returns its id.
private func sendAccepted(_ h: Harness, from: String = ministry, to: String, subject: String, body: String = "Dengan hormat.",
                          extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    let result = try await h.send(from: from, to: to, subject: subject, body: body, extra: extra)
    expectExit(result, 0, h, sourceLocation: sourceLocation)
    let object = try #require(try result.json().first, "\(result)", sourceLocation: sourceLocation)
    #expect(object["status"] as? String == "accepted", "\(result)", sourceLocation: sourceLocation)
    return try #require(object["id"] as? String, sourceLocation: sourceLocation)
}

/// Disposes and requires "accepted"; returns the disposition's id.
private func disposeAccepted(_ h: Harness, as agency: String, _ item: String, to: String, instruction: String,
                             note: String? = nil, due: String?, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    var arguments = ["dispose", "--node", h.node(agency), item, "--to", to, "--instruction", instruction, "--json", "--timeout", "10"]
    if let note { arguments += ["--note", note] }
    if let due { arguments += ["--due", due] }
    let result = try await h.cli(arguments)
    expectExit(result, 0, h, sourceLocation: sourceLocation)
    let object = try #require(try result.json().first, "\(result)", sourceLocation: sourceLocation)
    #expect(object["status"] as? String == "accepted", "\(result)", sourceLocation: sourceLocation)
    return try #require(object["id"] as? String, sourceLocation: sourceLocation)
}

/// Waits until `agency`'s inbox holds every id as received.
private func waitForInbox(_ h: Harness, _ agency: String, _ ids: [String], timeout: Double = 15) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let store = try h.nodeStore(agency)
        if try ids.allSatisfy({ try store.message(id: $0)?.received == true }) { return }
        if Date() >= deadline { throw HarnessError("\(agency) has not received all of \(ids) after \(timeout) s\n\(h.brokerLog.suffix(3000))") }
        try await Task.sleep(nanoseconds: 50_000_000)
    }
}

private func waitFor(_ what: @autoclosure () -> String, timeout: Double, _ condition: () throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try !condition() {
        if Date() >= deadline { throw HarnessError("timed out after \(Int(timeout)) s waiting for \(what())") }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
}

/// The agenda rows of one direction, by year then number.
private func agendaRows(_ db: SQLiteConnection, direction: String) throws -> [(year: Int, number: Int, id: String)] {
    try db.query("SELECT year, number, message_id FROM agenda WHERE direction = ? ORDER BY year, number", direction) {
        (Int($0.int(0)), Int($0.int(1)), $0.text(2))
    }
}

/// Checks that the numbers of one direction are 1…n in every year, each letter numbered once,
/// in the order the letters were stored (`orderSQL` lists the ids in storage order).
private func expectGaplessInStorageOrder(_ db: SQLiteConnection, direction: String, orderSQL: String, expected: Int,
                                         _ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let rows = try agendaRows(db, direction: direction)
    #expect(rows.count == expected, "[\(label)] \(rows.count) \(direction) numbers for \(expected) letters", sourceLocation: sourceLocation)
    #expect(Set(rows.map(\.id)).count == rows.count, "[\(label)] a letter has two \(direction) numbers", sourceLocation: sourceLocation)
    for year in Set(rows.map(\.year)) {
        let numbers = rows.filter { $0.year == year }.map(\.number)
        let gaps = Set(1...numbers.count).subtracting(numbers).sorted()
        #expect(numbers == Array(1...numbers.count),
                "[\(label)] \(direction) \(year): not 1…\(numbers.count); missing \(gaps.prefix(10)), duplicates \(Dictionary(grouping: numbers, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted().prefix(10))",
                sourceLocation: sourceLocation)
    }
    let stored = try db.query(orderSQL) { $0.text(0) }
    #expect(stored == rows.map(\.id), "[\(label)] \(direction) numbers are not in storage order", sourceLocation: sourceLocation)
}

/// A copy of `data` with one byte changed at `index` (never into or out of a newline, so the
/// damage stays inside its line).
private func flipped(_ data: Data, at index: Int) -> Data {
    var copy = data
    let i = copy.startIndex + index
    let mask: UInt8 = (copy[i] ^ 0x01) == 0x0A ? 0x02 : 0x01
    copy[i] ^= mask
    return copy
}

@Suite("Registry (integration)", .serialized, .timeLimit(.minutes(5)))
struct RegistryIntegrationTests {
    // MARK: - Agenda numbers under SIGKILL

    /// 1,000 letters to one agency whose `bus-cli subscribe` is SIGKILLed again and again while
    /// it stores them: afterwards its IN numbers are exactly 1…1000 (per Jakarta year), one per
    /// letter, in storage order, and so are the sender's OUT numbers; `bus-cli agenda` lists
    /// the same numbers.
    @Test func agendaNumbersStayGaplessAndUniqueWhileTheReceiverIsKilled() async throws {
        let letters = 1_000
        let kills = FaultScale.pick(full: 40, short: 20)
        let f = try await FaultHarness(scenario: "registry agenda kill -9", senders: [ministry], receivers: [city])
        defer { f.shutdown() }
        try f.subscribe(city)
        try f.makeSenders(recipients: [[city]], bodyBytes: 300)
        for s in f.senders { s.start() }

        for cycle in 0..<kills {
            f.allow(total: letters * (cycle + 1) / kills)
            let before = try f.inboxCount(city)
            let target = before + Int.random(in: 5...max(6, letters / kills / 2), using: &f.random)
            try await waitFor("cycle \(cycle + 1): \(target) letters stored at \(city) (have \((try? f.inboxCount(city)) ?? -1))", timeout: 120) {
                try f.inboxCount(city) >= target
            }
            try await Task.sleep(nanoseconds: UInt64.random(in: 0...30_000_000, using: &f.random))
            let child = try #require(f.subscribers[city])
            await child.crash()
            try f.subscribe(city)
        }
        f.allow(total: letters)
        try await f.waitUntilAllAccepted(timeout: 180)
        _ = try await f.waitUntilDrained(timeout: 180)
        let summary = try await f.finalCheck(expectedDeliveries: letters)

        let receiver = try SQLiteConnection(path: NodeConfig.inboxPath(in: f.h.node(city)))
        try expectGaplessInStorageOrder(receiver, direction: "in", orderSQL: """
            SELECT id FROM messages WHERE kind = 'letter' AND received_at IS NOT NULL ORDER BY seq
            """, expected: letters, "receiver")
        let sender = try SQLiteConnection(path: NodeConfig.inboxPath(in: f.h.node(ministry)))
        try expectGaplessInStorageOrder(sender, direction: "out", orderSQL: """
            SELECT id FROM messages WHERE kind = 'letter' AND direction = 'out' ORDER BY seq
            """, expected: letters, "sender")

        // The register as the clerk sees it holds the same numbers.
        let calendar = AgencyCalendar(identifier: zone)
        let span = try #require(try receiver.queryOne("SELECT MIN(assigned_at), MAX(assigned_at) FROM agenda") { ($0.int(0), $0.int(1)) })
        let listed = try await f.h.cli(["agenda", "--node", f.h.node(city), "--from", calendar.day(of: Timestamp(milliseconds: span.0)),
                                        "--to", calendar.day(of: Timestamp(milliseconds: span.1)), "--direction", "in", "--json"], timeout: 60)
        expectExit(listed, 0, f.h)
        let objects = try listed.json().filter { $0["kind"] as? String == "letter" }
        let rows = try agendaRows(receiver, direction: "in")
        #expect(objects.compactMap { $0["id"] as? String } == rows.map(\.id))
        #expect(objects.compactMap { $0["agendaNumber"] as? String }
                == rows.map { AgendaNumber(direction: "in", year: $0.year, number: $0.number).text })
        f.report(["letters": letters, "receiver_kills": kills, "in_numbers": rows.count], summary: summary)
    }

    // MARK: - Search, the daily agenda, and the numbers in inbox, show and trace

    @Test func searchAgendaAndNumbersOverRealProcesses() async throws {
        let h = try await Harness(agencies: [ministry, city])
        defer { h.shutdown() }
        let subscription = try h.subscribe(city)
        let paper = try String(contentsOfFile: paperPath, encoding: .utf8)
        let subject = "Kajian Optimalisasi e-Office untuk Pemerintah Kota"
        let body = "Dengan hormat, bersama ini kami sampaikan kajian terlampir untuk bahan rapat."
        #expect(paper.contains(paperWord))
        #expect(!subject.lowercased().contains(paperWord) && !body.lowercased().contains(paperWord))

        let before = Date()
        let today = jakartaDay()
        let letter = try await sendAccepted(h, to: city, subject: subject, body: body, extra: [
            "--attach", paperPath, "--number", "B/77/M.PANRB/03/2026", "--date", today,
            "--classification", "terbatas", "--urgency", "segera",
        ])
        try await waitForInbox(h, city, [letter])
        let note = "Mohon rekonsiliasi data anggaran sebelum rapat"
        let disposition = try await disposeAccepted(h, as: city, letter, to: "\(city)/setda", instruction: "koordinasikan",
                                                    note: note, due: today)
        try await waitForInbox(h, city, [disposition])
        let after = Date()
        let year = try #require(Int(today.prefix(4)))
        let inNumber = "0001/IN/\(year)", outNumber = "0001/OUT/\(year)"

        // Search: a word only the attachment has, in any case; a word of the disposition note,
        // with an accent the note does not have.
        for query in [paperWord, paperWord.uppercased(), "attachments:\(paperWord)"] {
            let found = try await h.cli(["search", "--node", h.node(city), query, "--json"])
            expectExit(found, 0, h)
            let hits = try found.json()
            #expect(hits.count == 1, "\(query): \(found)")
            #expect(hits.first?["id"] as? String == letter)
            #expect(hits.first?["kind"] as? String == "letter")
            #expect(hits.first?["agendaNumber"] as? String == inNumber)
            #expect((hits.first?["snippet"] as? String)?.contains("[\(paperWord)]") == true, "\(found)")
        }
        let sent = try await h.cli(["search", "--node", h.node(ministry), paperWord, "--json"])
        expectExit(sent, 0, h)
        #expect(try sent.json().map { $0["id"] as? String } == [letter])
        #expect(try sent.json().first?["agendaNumber"] as? String == outNumber)
        let noted = try await h.cli(["search", "--node", h.node(city), "rékonsiliasi", "--json"])
        expectExit(noted, 0, h)
        let noteHits = try noted.json()
        #expect(noteHits.count == 1, "\(noted)")
        #expect(noteHits.first?["id"] as? String == letter)
        #expect(noteHits.first?["item"] as? String == disposition)
        #expect(noteHits.first?["kind"] as? String == "disposition")
        let filtered = try await h.cli(["search", "--node", h.node(city), paperWord, "--classification", "biasa", "--json"])
        expectExit(filtered, 0, h)
        #expect(filtered.stdout.isEmpty, "\(filtered)")
        let human = try await h.cli(["search", "--node", h.node(city), paperWord])
        expectExit(human, 0, h)
        #expect(human.lines.first?.hasPrefix("\(inNumber)  \(letter)  ") == true, "\(human)")

        // The numbers in inbox, show and trace.
        let inbox = try await h.cli(["inbox", "--node", h.node(city), "--json"])
        expectExit(inbox, 0, h)
        #expect(try inbox.json().first { $0["id"] as? String == letter }?["agendaNumber"] as? String == inNumber, "\(inbox)")
        let inboxText = try await h.cli(["inbox", "--node", h.node(city)])
        #expect(inboxText.lines.contains { $0.contains(letter) && $0.contains(inNumber) }, "\(inboxText)")
        let shown = try await h.cli(["show", "--node", h.node(city), letter, "--json"])
        expectExit(shown, 0, h)
        #expect(try shown.json().first?["agendaNumber"] as? String == inNumber, "\(shown)")
        let shownText = try await h.cli(["show", "--node", h.node(city), letter])
        #expect(shownText.lines.contains("Agenda      \(inNumber)"), "\(shownText)")
        let shownOut = try await h.cli(["show", "--node", h.node(ministry), letter, "--json"])
        #expect(try shownOut.json().first?["agendaNumber"] as? String == outNumber, "\(shownOut)")
        let traced = try await h.cli(["trace", "--node", h.node(city), letter, "--json", "--timeout", "10"])
        expectExit(traced, 0, h)
        #expect(try traced.json().first?["agendaNumber"] as? String == inNumber, "\(traced)")
        let tracedText = try await h.cli(["trace", "--node", h.node(ministry), letter, "--timeout", "10"])
        expectExit(tracedText, 0, h)
        #expect(tracedText.lines.first?.hasPrefix("▶ LETTER \(letter)  \(ministry)  \(outNumber)  ") == true, "\(tracedText)")

        // The daily agenda of the receiving agency: the letter, and the disposition due today.
        let agenda = try await h.cli(["agenda", "--node", h.node(city), "--date", today, "--json"])
        expectExit(agenda, 0, h)
        let objects = try agenda.json()
        #expect(objects.count == 2, "\(agenda)")
        let row = try #require(objects.first, "\(agenda)")
        let registered = try #require((row["registeredAt"] as? String).flatMap(Timestamp.init(text:)), "\(row)")
        #expect(registered.date >= before.addingTimeInterval(-1) && registered.date <= after.addingTimeInterval(1), "\(row)")
        let expectedLetter: [String: Any] = [
            "kind": "letter", "id": letter, "agendaNumber": inNumber, "direction": "in",
            "day": jakartaDay(registered.date), "time": jakartaTime(registered.date), "registeredAt": registered.text,
            "number": "B/77/M.PANRB/03/2026", "date": today, "from": ministry, "to": [city], "subject": subject,
            "classification": "terbatas", "urgency": "segera",
        ]
        #expect(JSONLine.encode(row) == JSONLine.encode(expectedLetter))
        let expectedDisposition: [String: Any] = [
            "kind": "disposition", "id": letter, "agendaNumber": inNumber, "disposition": disposition, "due": today,
            "holder": "\(city)/setda", "status": "none", "from": city, "instructions": ["koordinasikan"],
            "subject": subject, "overdue": false,
        ]
        // The disposer: the letter went to the agency without a unit, so the agency disposes.
        let dispositionRow = objects.count > 1 ? objects[1] : [:]
        #expect(JSONLine.encode(dispositionRow) == JSONLine.encode(expectedDisposition), "\(agenda)")
        let sentAgenda = try await h.cli(["agenda", "--node", h.node(ministry), "--date", today, "--direction", "out", "--json"])
        expectExit(sentAgenda, 0, h)
        let sentRows = try sentAgenda.json()
        #expect(sentRows.map { $0["agendaNumber"] as? String } == [outNumber], "\(sentAgenda)")
        #expect(sentRows.first?["to"] as? [String] == [city])
        let csv = try await h.cli(["agenda", "--node", h.node(city), "--date", today, "--csv"])
        expectExit(csv, 0, h)
        #expect(csv.stdout.split(separator: "\r\n").count == 3, "\(csv)")
        #expect(csv.stdout.contains("letter,\(inNumber),\(jakartaDay(registered.date)),\(jakartaTime(registered.date)),in,\(letter),"), "\(csv)")
        await subscription.stop()
    }

    // MARK: - Archive: export, verify, one byte flipped

    @Test func anArchiveVerifiesAndAFlippedByteIsNamed() async throws {
        let h = try await Harness(agencies: [ministry, city])
        defer { h.shutdown() }
        let subscription = try h.subscribe(city)
        let first = try await sendAccepted(h, to: city, subject: "Kajian e-Office", extra: ["--attach", paperPath])
        let second = try await sendAccepted(h, to: "\(city)/diskominfo", subject: "Undangan Rapat SPBE")
        try await waitForInbox(h, city, [first, second])
        let disposition = try await disposeAccepted(h, as: city, first, to: "\(city)/setda", instruction: "pelajari",
                                                    note: "Pelajari lampirannya", due: nil)
        try await waitForInbox(h, city, [disposition])
        await subscription.stop()
        let year = try #require(try h.nodeStore(city).agendaNumber(messageID: first)?.year)

        let file = h.directory.file("arsip-\(city)-\(year).jsonl")
        let exported = try await h.cli(["archive", "export", "--node", h.node(city), "--year", String(year), "--out", file, "--json"])
        expectExit(exported, 0, h)
        let summary = try #require(try exported.json().first, "\(exported)")
        #expect(summary["letters"] as? Int == 2 && summary["verified"] as? Bool == true, "\(exported)")
        let verified = try await h.cli(["archive", "verify", file])
        expectExit(verified, 0, h)
        #expect(verified.lines.first?.hasPrefix("intact: \(file): \(city) \(year): 2 letter(s)") == true, "\(verified)")

        // What each line holds, from the file itself.
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        var lines: [(range: Range<Int>, type: String, id: String)] = []
        var start = 0
        for (i, byte) in original.enumerated() where byte == 0x0A {
            let object = try #require(try JSONSerialization.jsonObject(with: original[start..<i]) as? [String: Any])
            lines.append((start..<i, object["type"] as? String ?? "", object["id"] as? String ?? ""))
            start = i + 1
        }
        #expect(Set(lines.map(\.type)) == ["archive", "key", "message", "evidence", "manifest"], "\(lines.map(\.type))")
        let messageIDs = Set(lines.filter { $0.type == "message" }.map(\.id))
        #expect(messageIDs.isSuperset(of: [first, second, disposition]))

        // One byte flipped anywhere (three places in every line): damaged, and the problem
        // names that line and its item, and no other line is said to have been changed.
        let damaged = h.directory.file("damaged.jsonl")
        for (n, line) in lines.enumerated() {
            for offset in [line.range.count / 4, line.range.count / 2, line.range.count * 3 / 4] {
                try flipped(original, at: line.range.lowerBound + offset).write(to: URL(fileURLWithPath: damaged))
                let r = try ArchiveVerifier.verify(path: damaged)
                let place = "line \(n + 1) (\(line.type) \(line.id)) byte \(offset)"
                #expect(!r.intact, "\(place): not detected")
                let name = line.type == "manifest" ? "manifest" : line.type == "archive" ? "archive" : "\(line.type) \(line.id)"
                #expect(r.problems.contains { $0.line == n + 1 && $0.item.hasPrefix(name) }, "\(place): \(r.problems)")
                let accused = r.problems.filter { ($0.check == "sha256" || $0.check == "json") && $0.line != nil && $0.line != n + 1 }
                #expect(accused.isEmpty, "\(place): intact lines said to be changed: \(accused)")
            }
        }

        // The command: exit 65, and it names the letter whose line was damaged.
        let letterLine = try #require(lines.firstIndex { $0.type == "message" && $0.id == first })
        try flipped(original, at: lines[letterLine].range.lowerBound + lines[letterLine].range.count / 2)
            .write(to: URL(fileURLWithPath: damaged))
        let failed = try await h.cli(["archive", "verify", damaged])
        expectExit(failed, 65, h)
        #expect(failed.lines.contains { $0.hasPrefix("DAMAGED line \(letterLine + 1): message \(first)") }, "\(failed)")
        #expect(failed.stderr.contains("is damaged"), "\(failed)")
        let asJSON = try await h.cli(["archive", "verify", damaged, "--json"])
        expectExit(asJSON, 65, h)
        #expect(try asJSON.json().last?["intact"] as? Bool == false)
    }

    // MARK: - Retention: prune removes only what was archived and verified

    @Test func pruneNeverRemovesAnUnexportedLetter() async throws {
        let h = try await Harness(agencies: [ministry, city])
        defer { h.shutdown() }
        let subscription = try h.subscribe(city)
        let old = "2020-01-02"  // closed long ago: past every retention but sangat-rahasia's
        let closed = try await sendAccepted(h, to: city, subject: "Surat lama selesai", extra: ["--date", old])
        let recent = try await sendAccepted(h, to: city, subject: "Surat baru")
        let open = try await sendAccepted(h, to: city, subject: "Surat lama terbuka", extra: ["--date", old])
        try await waitForInbox(h, city, [closed, recent, open])
        let disposition = try await disposeAccepted(h, as: city, open, to: "\(city)/setda", instruction: "tindak-lanjuti", due: nil)
        try await waitForInbox(h, city, [disposition])
        let year = try #require(try h.nodeStore(city).agendaNumber(messageID: closed)?.year)
        let file = h.directory.file("arsip.jsonl")
        expectExit(try await h.cli(["archive", "export", "--node", h.node(city), "--year", String(year), "--out", file]), 0, h)
        // Arrives after the export: never in an archive.
        let late = try await sendAccepted(h, to: city, subject: "Surat lama susulan", extra: ["--date", old])
        try await waitForInbox(h, city, [late])
        await subscription.stop()

        func prune(_ extra: [String] = []) async throws -> [String: [String: Any]] {
            let r = try await h.cli(["archive", "prune", "--node", h.node(city), "--json"] + extra)
            expectExit(r, 0, h)
            return Dictionary(try r.json().map { ($0["id"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        }
        func present(_ id: String) throws -> Bool { try h.nodeStore(city).message(id: id) != nil }

        let plan = try await prune(["--dry-run"])
        #expect(plan[closed]?["action"] as? String == "would-prune", "\(plan)")
        #expect(plan[recent]?["action"] as? String == "kept")
        #expect(plan[open]?["action"] as? String == "kept")
        #expect(plan[late] == nil, "an unexported letter is not even a candidate: \(plan)")
        #expect(try [closed, recent, open, late, disposition].allSatisfy(present))

        // The archive on disk no longer matches what verified: nothing it holds may go.
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        try flipped(original, at: original.count / 2).write(to: URL(fileURLWithPath: file))
        let refused = try await prune()
        #expect(refused[closed]?["action"] as? String == "kept", "\(refused)")
        #expect(try present(closed))
        try original.write(to: URL(fileURLWithPath: file))

        let done = try await prune()
        #expect(done[closed]?["action"] as? String == "pruned", "\(done)")
        #expect(done[closed]?["agendaNumber"] as? String == "0001/IN/\(year)")
        #expect(try !present(closed))
        #expect(try [recent, open, late, disposition].allSatisfy(present))
        // The register keeps its line; search no longer finds the letter.
        #expect(try h.nodeStore(city).agendaNumber(messageID: closed)?.text == "0001/IN/\(year)")
        #expect(try h.nodeStore(city).search("selesai").isEmpty)

        // Retention 0 for every classification: still nothing unexported or open goes.
        expectExit(try await h.cli(["archive", "retention", "--node", h.node(city), "--set",
                                    "biasa=0,terbatas=0,rahasia=0,sangat-rahasia=0"]), 0, h)
        let zero = try await prune()
        #expect(zero[recent]?["action"] as? String == "pruned", "\(zero)")
        #expect(zero[open]?["action"] as? String == "kept", "\(zero)")
        #expect(zero[late] == nil)
        #expect(try present(late) && present(open) && present(disposition))
        #expect(try !present(recent))
    }
}
