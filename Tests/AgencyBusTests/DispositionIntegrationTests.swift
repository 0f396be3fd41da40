import Foundation
import Testing
@testable import AgencyBus

// Dispositions, status updates and `bus-cli trace` end to end: the real bus-broker and
// bus-cli processes over real CURVE sockets (Harness.swift), plus an in-process BrokerClient
// for what a well-behaved node never sends (forged dispositions, past due dates).
//
// The story: Kementerian PANRB writes to the mayor of Semarang; the mayor disposes it to the
// regional secretary, who disposes it to Diskominfo Semarang and Diskominfo Jawa Tengah
// (another agency); Jawa Tengah disposes it on to its Bappeda.

private let ministry = "kemenpanrb"
private let city = "pemkot-semarang"
private let province = "pemprov-jateng"
private let outsider = "bappenas"

// MARK: - Helpers

/// Records an issue with the whole command output and the broker's log when the exit code differs.
private func expectExit(_ result: CommandResult, _ code: Int32, _ h: Harness, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.exitCode == code, "\(result)\n--- broker log ---\n\(h.brokerLog)", sourceLocation: sourceLocation)
}

/// The local calendar date `offset` days from today, as `bus-cli --due` takes it.
private func day(_ offset: Int) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = .current
    let date = calendar.date(byAdding: .day, value: offset, to: Date())!  // !: adding days to now always yields a date
    let c = calendar.dateComponents([.year, .month, .day], from: date)
    return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
}

/// Sends a letter and requires "accepted"; returns its id.
private func sendLetter(_ h: Harness, from: String = ministry, to: String, subject: String = "Undangan Rapat Koordinasi SPBE",
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    let result = try await h.send(from: from, to: to, subject: subject)
    expectExit(result, 0, h, sourceLocation: sourceLocation)
    let object = try #require(try result.json().first, "\(result)", sourceLocation: sourceLocation)
    #expect(object["status"] as? String == "accepted", "\(result)", sourceLocation: sourceLocation)
    return try #require(object["id"] as? String, sourceLocation: sourceLocation)
}

private func dispose(_ h: Harness, as agency: String, _ id: String, to: String, instructions: String = "tindak-lanjuti",
                     due: String? = day(7), extra: [String] = []) async throws -> CommandResult {
    var arguments = ["dispose", "--node", h.node(agency), id, "--to", to, "--instruction", instructions, "--json", "--timeout", "10"]
    if let due { arguments += ["--due", due] }
    return try await h.cli(arguments + extra)
}

/// Disposes and requires "accepted"; returns the printed object (with `id`).
private func disposeAccepted(_ h: Harness, as agency: String, _ id: String, to: String, instructions: String = "tindak-lanjuti",
                             due: String? = day(7), extra: [String] = [],
                             sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
    let result = try await dispose(h, as: agency, id, to: to, instructions: instructions, due: due, extra: extra)
    expectExit(result, 0, h, sourceLocation: sourceLocation)
    let object = try #require(try result.json().first, "\(result)", sourceLocation: sourceLocation)
    #expect(result.lines.count == 1, "\(result)", sourceLocation: sourceLocation)
    #expect(object["status"] as? String == "accepted", "\(result)", sourceLocation: sourceLocation)
    #expect(object["kind"] as? String == "disposition", sourceLocation: sourceLocation)
    let id = try #require(object["id"] as? String, sourceLocation: sourceLocation)
    #expect(MessageID.isValid(id), sourceLocation: sourceLocation)
    return object
}

private func status(_ h: Harness, as agency: String, _ id: String, _ value: String, extra: [String] = []) async throws -> CommandResult {
    try await h.cli(["status", "--node", h.node(agency), id, value, "--timeout", "10"] + extra)
}

private func statusAccepted(_ h: Harness, as agency: String, _ id: String, _ value: String, extra: [String] = [],
                            sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let result = try await status(h, as: agency, id, value, extra: extra + ["--json"])
    expectExit(result, 0, h, sourceLocation: sourceLocation)
    let object = try result.json().first
    #expect(object?["status"] as? String == "accepted", "\(result)", sourceLocation: sourceLocation)
    #expect(object?["item"] as? String == id, sourceLocation: sourceLocation)
    #expect(object?["value"] as? String == value, sourceLocation: sourceLocation)
}

private func trace(_ h: Harness, as agency: String, _ id: String, json: Bool = true) async throws -> CommandResult {
    try await h.cli(["trace", "--node", h.node(agency), id, "--timeout", "10"] + (json ? ["--json"] : []))
}

/// Waits until `agency`'s inbox holds every id as received (its subscriber stored it).
private func waitForInbox(_ h: Harness, _ agency: String, _ ids: [String], timeout: Double = 10) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let store = try h.nodeStore(agency)
        if try ids.allSatisfy({ try store.message(id: $0)?.received == true }) { return }
        if Date() >= deadline {
            throw HarnessError("\(agency) has not received all of \(ids) after \(timeout) s\n\(h.brokerLog)")
        }
        try await Task.sleep(nanoseconds: 50_000_000)
    }
}

/// Traces `id` as `agency` until `complete` holds for the printed object; returns it.
private func waitForTrace(_ h: Harness, as agency: String, _ id: String, timeout: Double = 10,
                          until complete: ([String: Any]) -> Bool) async throws -> [String: Any] {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let result = try await trace(h, as: agency, id)
        if result.exitCode == 0, let object = try result.json().first, complete(object) { return object }
        if Date() >= deadline {
            throw HarnessError("trace of \(id) as \(agency) incomplete after \(timeout) s:\n\(result)\n\(h.brokerLog)")
        }
        try await Task.sleep(nanoseconds: 100_000_000)
    }
}

// MARK: Reading a trace tree (the JSON `bus-cli trace --json` prints)

private typealias Node = [String: Any]

private func tree(_ traced: [String: Any]) -> Node { traced["tree"] as? Node ?? [:] }
private func children(_ n: Node) -> [Node] { n["children"] as? [Node] ?? [] }
private func flatten(_ n: Node) -> [Node] { [n] + children(n).flatMap(flatten) }
private func isItem(_ n: Node) -> Bool { n["what"] as? String == "letter" || n["what"] as? String == "disposition" }
private func itemNode(_ id: String, in root: Node) -> Node? { flatten(root).first { isItem($0) && $0["id"] as? String == id } }
private func childItems(_ n: Node) -> [String] { children(n).filter(isItem).compactMap { $0["id"] as? String } }
private func openParts(_ n: Node?) -> [String] { n?["open"] as? [String] ?? [] }
private func latency(_ n: Node) -> Int64? { (n["latencyMs"] as? NSNumber)?.int64Value }

/// The hops of an item as sorted `what@who` strings (a multiset: duplicates show).
private func hops(_ n: Node?) -> [String] {
    children(n ?? [:]).filter { !isItem($0) }.map { "\($0["what"] as? String ?? "?")@\($0["who"] as? String ?? "?")" }.sorted()
}

/// The tree without its highlight marks, as canonical bytes (to compare trees traced by different ids).
private func unmarked(_ n: Node) -> Data {
    func strip(_ n: Node) -> Node {
        var n = n
        n["highlight"] = nil
        n["children"] = children(n).map(strip)
        return n
    }
    return Fixtures.json(strip(n))
}

// MARK: An in-process node connection, for what bus-cli never sends

private final class RawNode {
    let client: BrokerClient
    let key: SecretKey

    init(_ h: Harness, agency: String) throws {
        key = try KeyFile.load(at: NodeConfig.keyPath(in: h.node(agency)))
        let topology = try Topology.load(path: h.topologyPath)
        let brokerKey = try #require(topology.broker(h.brokerID).flatMap { try? PublicKey(text: $0.publicKey) })
        client = try BrokerClient(endpoint: h.endpoint, brokerKey: brokerKey, identity: key)
    }

    enum Outcome: Equatable {
        case accepted
        case refused(RefusalCode, String)
        case noAnswer
    }

    /// Submits `header` signed with this node's key and waits for the broker's answer about it.
    func submit<H: Encodable>(_ header: H, id: String, timeout: Double = 5) async throws -> Outcome {
        try client.send(.submit(try Envelope.seal(header, with: key)))
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            // Short polls with yields in between: a blocking zmq_poll should not hold a pool thread long.
            switch try client.receive(timeoutMs: 100) {
            case .refused(let refused, let code, let reason)? where refused == id:
                return .refused(code, reason)
            case .accepted(let envelope)? where (try? envelope.decode(Acceptance.self))?.items.contains(where: { $0.id == id }) == true:
                return .accepted
            default:
                await Task.yield()
            }
        }
        return .noAnswer
    }
}

private func forgedDisposition(letter: String, parent: String? = nil, from: String, to: [String],
                               due: String? = day(7)) throws -> Disposition {
    let now = Timestamp.now()
    return Disposition(id: MessageID.generate(at: now), from: try Address(parsing: from), created: now, letter: letter,
                       parent: parent, to: try to.map { try Address(parsing: $0) }, instructions: [.tindakLanjuti],
                       note: "Dibuat di luar bus-cli", due: due, urgency: .biasa)
}

private func statusUpdate(item: String, letter: String, from: String, to: String, _ value: StatusUpdate.Value) throws -> StatusUpdate {
    let now = Timestamp.now()
    return StatusUpdate(id: MessageID.generate(at: now), from: try Address(parsing: from), created: now, item: item,
                        letter: letter, to: to, status: value, note: nil)
}

// MARK: - Tests

@Suite("Dispositions and trace (integration)", .timeLimit(.minutes(2)))
struct DispositionIntegrationTests {
    // MARK: 1 + 6

    @Test func threeLevelChainAcrossTwoAgenciesTracesEveryHop() async throws {
        let h = try await Harness(agencies: [ministry, city, province, outsider])
        defer { h.shutdown() }
        let citySubscription = try h.subscribe(city)
        let provinceSubscription = try h.subscribe(province)
        let due = day(7)

        let letter = try await sendLetter(h, to: "\(city)/walikota")
        try await waitForInbox(h, city, [letter])
        let opened = try await h.cli(["show", "--node", h.node(city), letter])  // sends 'read' to PANRB
        expectExit(opened, 0, h)

        // Level 1: the mayor to the regional secretary (same agency).
        let first = try await disposeAccepted(h, as: city, letter, to: "\(city)/setda", instructions: "tindak-lanjuti,siapkan-jawaban",
                                              due: due, extra: ["--from-unit", "walikota", "--note", "Mohon dipelajari."])
        let d1 = try #require(first["id"] as? String)
        #expect(first["letter"] as? String == letter)
        #expect(first["parent"] == nil, "the first disposition on a letter has no parent")
        #expect(first["from"] as? String == "\(city)/walikota")
        #expect(first["due"] as? String == due)
        try await waitForInbox(h, city, [d1])
        expectExit(try await h.cli(["show", "--node", h.node(city), d1]), 0, h)  // read, by setda

        // Level 2: the secretary to two offices, one in another agency.
        let second = try await disposeAccepted(h, as: city, d1, to: "\(city)/diskominfo,\(province)/diskominfo",
                                               instructions: "koordinasikan,laporkan", due: due)
        let d2 = try #require(second["id"] as? String)
        #expect(second["parent"] as? String == d1)
        #expect(second["letter"] as? String == letter)
        #expect(second["from"] as? String == "\(city)/setda")
        try await statusAccepted(h, as: city, d1, "in-progress")
        try await waitForInbox(h, province, [letter, d2])
        try await waitForInbox(h, city, [d2])

        // 6: opening a received disposition sends 'read' once, however often it is opened.
        let shown = try await h.cli(["show", "--node", h.node(province), d2])
        expectExit(shown, 0, h)
        #expect(shown.stderr.contains("marked read"), "\(shown)")
        let again = try await h.cli(["show", "--node", h.node(province), d2, "--json"])
        expectExit(again, 0, h)
        #expect(!again.stderr.contains("marked read"), "\(again)")
        try await statusAccepted(h, as: city, d2, "read")

        // Level 3: Jawa Tengah disposes further inside its own agency.
        let third = try await disposeAccepted(h, as: province, d2, to: "\(province)/bappeda", instructions: "pelajari", due: due)
        let d3 = try #require(third["id"] as? String)
        #expect(third["parent"] as? String == d2)
        #expect(third["from"] as? String == "\(province)/diskominfo")
        try await statusAccepted(h, as: province, d2, "done", extra: ["--note", "Rapat koordinasi terlaksana"])
        try await waitForInbox(h, province, [d3])

        let expected: [String: [String]] = [
            letter: ["accepted@nasional", "delivered@\(city)", "stored@\(city)", "read@\(city)/walikota",
                     "delivered@\(province)", "stored@\(province)"].sorted(),
            d1: ["accepted@nasional", "delivered@\(city)", "stored@\(city)", "read@\(city)/setda", "in-progress@\(city)/setda"].sorted(),
            d2: ["accepted@nasional", "delivered@\(city)", "stored@\(city)", "delivered@\(province)", "stored@\(province)",
                 "read@\(city)/diskominfo", "read@\(province)/diskominfo", "done@\(province)/diskominfo"].sorted(),
            d3: ["accepted@nasional", "delivered@\(province)", "stored@\(province)"].sorted(),
        ]
        let traced = try await waitForTrace(h, as: ministry, letter) { object in
            expected.allSatisfy { id, want in hops(itemNode(id, in: tree(object))) == want }
        }
        await citySubscription.stop()
        await provinceSubscription.stop()

        let root = tree(traced)
        #expect(traced["id"] as? String == letter)
        #expect(traced["query"] as? String == letter)
        for (id, want) in expected { #expect(hops(itemNode(id, in: root)) == want, "hops of \(id)") }

        // Parent links: each disposition nested under the item it disposes.
        #expect(root["what"] as? String == "letter" && root["id"] as? String == letter)
        #expect(childItems(root) == [d1])
        #expect(childItems(itemNode(d1, in: root) ?? [:]) == [d2])
        #expect(childItems(itemNode(d2, in: root) ?? [:]) == [d3])
        #expect(childItems(itemNode(d3, in: root) ?? [:]) == [])
        #expect(flatten(root).filter(isItem).count == 4)
        // Who sent each item, and who signed each hop.
        #expect(root["who"] as? String == ministry)
        #expect(itemNode(d1, in: root)?["who"] as? String == "\(city)/walikota")
        #expect(itemNode(d2, in: root)?["who"] as? String == "\(city)/setda")
        #expect(itemNode(d3, in: root)?["who"] as? String == "\(province)/diskominfo")
        for n in flatten(root) where !isItem(n) {
            let what = n["what"] as? String ?? "", who = n["who"] as? String ?? ""
            let signer = n["signer"] as? String
            switch what {
            case "accepted", "delivered": #expect(signer == "nasional", "\(what)@\(who)")
            default: #expect(signer == String(who.split(separator: "/")[0]), "\(what)@\(who)")
            }
        }
        #expect(itemNode(d2, in: root).map(children)?.first { $0["what"] as? String == "done" }?["detail"] as? String
                == "Rapat koordinasi terlaksana")

        // Times and latencies: every node but the root has one, none is negative.
        #expect(root["latencyMs"] == nil)
        for n in flatten(root) {
            #expect((n["at"] as? String).flatMap(Timestamp.init(text:)) != nil, "\(n)")
        }
        for n in flatten(root).dropFirst() {
            let ms = latency(n)
            #expect((ms ?? -1) >= 0, "latency of \(n["what"] ?? "?") \(n["who"] ?? "?") is \(String(describing: ms))")
        }

        // Open items: what is not done; nothing is overdue with a due date a week away.
        #expect(openParts(root) == [])
        #expect(openParts(itemNode(d1, in: root)) == ["\(city)/setda: in progress"])
        #expect(openParts(itemNode(d2, in: root)) == ["\(city)/diskominfo: read, not done"])
        #expect(openParts(itemNode(d3, in: root)) == ["\(province)/bappeda: not read"])
        #expect(flatten(root).allSatisfy { $0["overdue"] as? Bool == false })

        // The same tree from every disposition id, by every agency in it; that item is highlighted.
        #expect(flatten(root).filter { $0["highlight"] as? Bool == true }.map { $0["id"] as? String } == [letter])
        for (agency, id) in [(city, d1), (city, d2), (province, d2), (province, d3), (province, letter), (ministry, d3)] {
            let r = try await trace(h, as: agency, id)
            expectExit(r, 0, h)
            let object = try #require(try r.json().first, "\(r)")
            #expect(object["id"] as? String == letter)
            #expect(object["query"] as? String == id)
            let other = tree(object)
            #expect(unmarked(other) == unmarked(root), "trace by \(id) as \(agency) differs:\n\(r.stdout)")
            let marked = flatten(other).filter { $0["highlight"] as? Bool == true }
            #expect(marked.count == 1 && marked.first?["id"] as? String == id && isItem(marked[0]), "\(id) as \(agency)")
        }

        // The human form: one line per node and open part, the queried item marked.
        let text = try await trace(h, as: province, d3, json: false)
        expectExit(text, 0, h)
        let lines = text.lines
        #expect(lines.count == flatten(root).count + flatten(root).map { openParts($0).count }.reduce(0, +), "\(text)")
        #expect(lines.first?.hasPrefix("LETTER \(letter)  \(ministry)") == true, "\(text)")
        #expect(lines.filter { $0.contains("▶ DISPOSITION \(d3)") }.count == 1, "\(text)")
        #expect(lines.contains { $0.hasSuffix("! \(province)/bappeda: not read") }, "\(text)")
        #expect(!text.stdout.contains("\u{1B}"), "colour with NO_COLOR set")
    }

    // MARK: 2

    @Test func anAgencyNotInvolvedGetsNotFoundLikeAnUnknownID() async throws {
        let h = try await Harness(agencies: [ministry, city, outsider])
        defer { h.shutdown() }
        let subscription = try h.subscribe(city)
        let letter = try await sendLetter(h, to: "\(city)/walikota")
        try await waitForInbox(h, city, [letter])
        let d1 = try #require(try await disposeAccepted(h, as: city, letter, to: "\(city)/setda")["id"] as? String)
        await subscription.stop()

        // Involved agencies may trace.
        expectExit(try await trace(h, as: ministry, d1), 0, h)
        expectExit(try await trace(h, as: city, letter), 0, h)

        // Bappenas is not: its answer is the one for an id that never existed.
        let never = MessageID.generate()
        var seen: [String] = []
        for (id, json) in [(letter, true), (d1, true), (never, true), (letter, false), (never, false)] {
            let r = try await trace(h, as: outsider, id, json: json)
            expectExit(r, 65, h)
            #expect(r.stdout.isEmpty, "\(r)")
            #expect(r.stderr.contains("not found"), "\(r)")
            seen.append(r.stderr.replacingOccurrences(of: id, with: "<ID>"))
        }
        #expect(Set(seen).count == 1, "different answers leak which ids exist:\n\(seen.joined(separator: "\n"))")
        // An involved agency asking for an unknown id gets the same answer too.
        let unknown = try await trace(h, as: ministry, never)
        expectExit(unknown, 65, h)
        #expect(unknown.stderr.replacingOccurrences(of: never, with: "<ID>") == seen[0])
    }

    // MARK: 3a + 4

    @Test func refusalsAtTheNodeExitWithTheirCodeAndChangeNothing() async throws {
        let h = try await Harness(agencies: [ministry, city])
        defer { h.shutdown() }
        let subscription = try h.subscribe(city)
        let letter = try await sendLetter(h, to: "\(city)/walikota")
        try await waitForInbox(h, city, [letter])
        await subscription.stop()

        // The sender does not hold its own letter: 77.
        let senderDisposes = try await dispose(h, as: ministry, letter, to: "\(ministry)/setmen")
        expectExit(senderDisposes, 77, h)
        #expect(senderDisposes.stderr.contains("does not hold \(letter)"), "\(senderDisposes)")
        let senderStatus = try await status(h, as: ministry, letter, "done")
        expectExit(senderStatus, 77, h)
        #expect(senderStatus.stderr.contains("does not hold \(letter)"), "\(senderStatus)")

        // Bad data: 65, the field named.
        let never = MessageID.generate()
        let unknownStatus = try await status(h, as: city, never, "read")
        expectExit(unknownStatus, 65, h)
        #expect(unknownStatus.stderr.contains("unknown id \(never)"), "\(unknownStatus)")
        let unknownDispose = try await dispose(h, as: city, never, to: "\(city)/setda")
        expectExit(unknownDispose, 65, h)
        #expect(unknownDispose.stderr.contains("unknown id \(never)"), "\(unknownDispose)")
        let notAnID = try await status(h, as: city, "B/88/2026", "read")
        expectExit(notAnID, 65, h)

        let instruction = try await dispose(h, as: city, letter, to: "\(city)/setda", instructions: "pelajari,hapus")
        expectExit(instruction, 65, h)
        #expect(instruction.stderr.contains("--instruction"), "\(instruction)")
        #expect(instruction.stderr.contains("'hapus'"), "\(instruction)")

        let yesterday = day(-1)
        let past = try await dispose(h, as: city, letter, to: "\(city)/setda", due: yesterday)
        expectExit(past, 65, h)
        #expect(past.stderr.contains("due: \(yesterday) is in the past"), "\(past)")
        let notADate = try await dispose(h, as: city, letter, to: "\(city)/setda", due: "2026-02-30")
        expectExit(notADate, 65, h)
        #expect(notADate.stderr.contains("due"), "\(notADate)")

        let noUnit = try await dispose(h, as: city, letter, to: province)
        expectExit(noUnit, 65, h)
        #expect(noUnit.stderr.contains("must name a unit"), "\(noUnit)")
        let unknownUnit = try await dispose(h, as: city, letter, to: "\(province)/dinas-fiktif")
        expectExit(unknownUnit, 65, h)
        #expect(unknownUnit.stderr.contains("dinas-fiktif"), "\(unknownUnit)")
        let fromUnit = try await status(h, as: city, letter, "read", extra: ["--from-unit", "setda"])
        expectExit(fromUnit, 77, h)  // the letter went to walikota, not setda
        #expect(fromUnit.stderr.contains("not to \(city)/setda"), "\(fromUnit)")

        // A status that is not one of read, in-progress, done is a usage error.
        let badValue = try await status(h, as: city, letter, "selesai")
        expectExit(badValue, 64, h)
        #expect(badValue.stderr.contains("read, in-progress, done"), "\(badValue)")

        for r in [senderDisposes, senderStatus, unknownStatus, unknownDispose, instruction, past, notADate, noUnit, unknownUnit, fromUnit] {
            #expect(r.stdout.isEmpty, "\(r)")
            #expect(r.stderr.hasPrefix("Error:"), "\(r)")
        }
        // Nothing was queued or sent: the outboxes hold only the letter, the trace only its delivery.
        #expect(try h.nodeStore(city).count(direction: "out") == 0)
        #expect(try h.nodeStore(ministry).count(direction: "out") == 1)
        let traced = try await waitForTrace(h, as: ministry, letter) { _ in true }
        #expect(flatten(tree(traced)).filter(isItem).count == 1)
        #expect(hops(tree(traced)) == ["accepted@nasional", "delivered@\(city)", "stored@\(city)"])
    }

    // MARK: 3b + 4 (broker side)

    @Test func theBrokerRefusesForgedDispositionsAndStatusesAndDeliversNothing() async throws {
        let h = try await Harness(agencies: [ministry, city, province, outsider])
        defer { h.shutdown() }
        let subscription = try h.subscribe(city)
        let letter = try await sendLetter(h, to: "\(city)/walikota")
        try await waitForInbox(h, city, [letter])
        // D1 reaches Jawa Tengah too; D2 stays inside Semarang.
        let d1 = try #require(try await disposeAccepted(h, as: city, letter, to: "\(city)/setda,\(province)/diskominfo")["id"] as? String)
        let d2 = try #require(try await disposeAccepted(h, as: city, d1, to: "\(city)/diskominfo")["id"] as? String)
        try await waitForInbox(h, city, [d1, d2])

        var forged: [String] = []
        func expectRefused<H: Encodable>(_ node: RawNode, _ header: H, id: String, _ code: RefusalCode, mentioning words: [String],
                                         sourceLocation: SourceLocation = #_sourceLocation) async throws {
            forged.append(id)
            let outcome = try await node.submit(header, id: id)
            guard case .refused(let got, let reason) = outcome else {
                Issue.record("\(id): expected REFUSED \(code.rawValue), got \(outcome)\n\(h.brokerLog)", sourceLocation: sourceLocation)
                return
            }
            #expect(got == code, "\(reason)", sourceLocation: sourceLocation)
            for w in words { #expect(reason.contains(w), "\(reason) should mention \(w)", sourceLocation: sourceLocation) }
        }

        // Bappenas holds nothing of this letter: it may neither dispose it nor report on it.
        let bappenas = try RawNode(h, agency: outsider)
        let onLetter = try forgedDisposition(letter: letter, from: "\(outsider)/settama", to: ["\(city)/diskominfo"])
        try await expectRefused(bappenas, onLetter, id: onLetter.id, .forbidden, mentioning: [outsider, letter])
        let onD1 = try forgedDisposition(letter: letter, parent: d1, from: "\(outsider)/settama", to: ["\(city)/diskominfo"])
        try await expectRefused(bappenas, onD1, id: onD1.id, .forbidden, mentioning: [outsider, d1])
        let read = try statusUpdate(item: letter, letter: letter, from: "\(outsider)/settama", to: ministry, .read)
        try await expectRefused(bappenas, read, id: read.id, .forbidden, mentioning: [outsider, letter])

        // Jawa Tengah holds the letter and D1, but not D2: it may not continue D2.
        let jateng = try RawNode(h, agency: province)
        let notItsParent = try forgedDisposition(letter: letter, parent: d2, from: "\(province)/diskominfo", to: ["\(city)/diskominfo"])
        try await expectRefused(jateng, notItsParent, id: notItsParent.id, .forbidden, mentioning: [province, d2])
        let noSuchParent = try forgedDisposition(letter: letter, parent: MessageID.generate(), from: "\(province)/diskominfo",
                                                 to: ["\(city)/diskominfo"])
        try await expectRefused(jateng, noSuchParent, id: noSuchParent.id, .notFound, mentioning: ["parent"])

        // Unknown ids: not found.
        let semarang = try RawNode(h, agency: city)
        let never = MessageID.generate()
        let unknownItem = try statusUpdate(item: never, letter: letter, from: "\(city)/setda", to: city, .done)
        try await expectRefused(semarang, unknownItem, id: unknownItem.id, .notFound, mentioning: [never])
        let unknownLetter = try forgedDisposition(letter: never, from: "\(city)/walikota", to: ["\(city)/setda"])
        try await expectRefused(semarang, unknownLetter, id: unknownLetter.id, .notFound, mentioning: [never])
        // A status must go back to whoever sent the item.
        let misrouted = try statusUpdate(item: d1, letter: letter, from: "\(city)/setda", to: ministry, .done)
        try await expectRefused(semarang, misrouted, id: misrouted.id, .invalid, mentioning: ["to", city])

        // A later, legitimate disposition arrives; none of the forged ones came before it.
        let d3 = try #require(try await disposeAccepted(h, as: city, d2, to: "\(city)/bappeda")["id"] as? String)
        try await waitForInbox(h, city, [d3])
        await subscription.stop()
        let store = try h.nodeStore(city)
        for id in forged { #expect(try store.message(id: id) == nil, "forged \(id) reached the inbox") }

        let traced = try await waitForTrace(h, as: ministry, letter) { _ in true }
        #expect(Set(flatten(tree(traced)).filter(isItem).compactMap { $0["id"] as? String }) == [letter, d1, d2, d3])
        #expect(!flatten(tree(traced)).contains { ($0["who"] as? String ?? "").hasPrefix(outsider) })
        // Bappenas did not become involved by trying.
        expectExit(try await trace(h, as: outsider, letter), 65, h)

        await h.stopBroker()
        let queue = try BrokerStore(path: h.brokerData + "/queue.sqlite")
        for id in forged {
            #expect(try queue.message(id: id) == nil, "refused \(id) was stored")
            #expect(try queue.item(id: id) == nil, "refused \(id) became an item")
        }
        #expect(try queue.isHolder(agency: outsider, letterID: letter) == false)
    }

    // MARK: 5

    @Test func traceSurvivesABrokerCrash() async throws {
        let h = try await Harness(agencies: [ministry, city])
        defer { h.shutdown() }
        let subscription = try h.subscribe(city)
        let letter = try await sendLetter(h, to: "\(city)/walikota")
        try await waitForInbox(h, city, [letter])
        let d1 = try #require(try await disposeAccepted(h, as: city, letter, to: "\(city)/setda")["id"] as? String)
        try await waitForInbox(h, city, [d1])
        try await statusAccepted(h, as: city, d1, "in-progress")
        let before = try await waitForTrace(h, as: ministry, d1) { object in
            hops(itemNode(d1, in: tree(object))).count == 4 && hops(tree(object)).count == 3
        }
        await subscription.stop()

        await h.crashBroker()  // kill -9
        let endpoint = h.endpoint
        try await h.startBroker(bind: endpoint)

        let after = try await trace(h, as: ministry, d1)
        expectExit(after, 0, h)
        let restored = try #require(try after.json().first)
        #expect(Fixtures.json(tree(restored)) == Fixtures.json(tree(before)), "the trace changed across the restart:\n\(after.stdout)")

        // And it keeps recording.
        try await statusAccepted(h, as: city, d1, "done")
        let done = try await waitForTrace(h, as: city, letter) { object in
            hops(itemNode(d1, in: tree(object))).contains("done@\(city)/setda")
        }
        #expect(openParts(itemNode(d1, in: tree(done))) == [])
        #expect(hops(itemNode(d1, in: tree(done))) == ["accepted@nasional", "delivered@\(city)", "done@\(city)/setda",
                                                       "in-progress@\(city)/setda", "stored@\(city)"])
    }

    // MARK: 6

    @Test func showSendsReadOnce() async throws {
        let h = try await Harness(agencies: [ministry, city])
        defer { h.shutdown() }
        let subscription = try h.subscribe(city)
        let letter = try await sendLetter(h, to: "\(city)/walikota")
        try await waitForInbox(h, city, [letter])
        let d1 = try #require(try await disposeAccepted(h, as: city, letter, to: "\(city)/setda")["id"] as? String)
        try await waitForInbox(h, city, [d1])
        await subscription.stop()

        for (i, id) in [d1, d1, letter, d1, letter].enumerated() {
            let shown = try await h.cli(["show", "--node", h.node(city), id, "--json"])
            expectExit(shown, 0, h)
            let firstTime = i == 0 || i == 2
            #expect(shown.stderr.contains("marked read") == firstTime, "show #\(i + 1) of \(id):\n\(shown)")
        }
        // Every show waited for the broker's answer, so a second 'read' would be in the trace now.
        let traced = try #require(try await trace(h, as: city, d1).json().first)
        #expect(hops(itemNode(d1, in: tree(traced))).filter { $0.hasPrefix("read@") } == ["read@\(city)/setda"])
        #expect(hops(tree(traced)).filter { $0.hasPrefix("read@") } == ["read@\(city)/walikota"])
        #expect(openParts(itemNode(d1, in: tree(traced))) == ["\(city)/setda: read, not done"])
        // The read went out as exactly one status message per item.
        let store = try h.nodeStore(city)
        let statuses = try store.messages(direction: "out").filter { $0.kind == "status" }
        #expect(statuses.count == 2)
        #expect(Set(statuses.compactMap(\.parentID)) == [d1, letter])
    }

    // MARK: 7

    @Test func inboxMarksAPastDueDispositionOverdue() async throws {
        let h = try await Harness(agencies: [ministry, city, province])
        defer { h.shutdown() }
        let citySubscription = try h.subscribe(city)
        let letter = try await sendLetter(h, to: "\(city)/walikota")
        try await waitForInbox(h, city, [letter])
        await citySubscription.stop()

        // bus-cli refuses a past due date, so sign one with Semarang's own key, as a node of
        // another implementation (or one with a wrong clock) could.
        let lateDue = day(-3)
        let late = try forgedDisposition(letter: letter, from: "\(city)/walikota", to: ["\(province)/diskominfo"], due: lateDue)
        let semarang = try RawNode(h, agency: city)
        let outcome = try await semarang.submit(late, id: late.id)
        #expect(outcome == .accepted, "\(h.brokerLog)")
        let onTimeDue = day(5)
        let onTime = try #require(try await disposeAccepted(h, as: city, letter, to: "\(province)/bappeda", due: onTimeDue)["id"] as? String)
        let undated = try #require(try await disposeAccepted(h, as: city, letter, to: "\(province)/bkd", due: nil)["id"] as? String)

        let provinceSubscription = try h.subscribe(province)
        try await waitForInbox(h, province, [letter, late.id, onTime, undated])
        await provinceSubscription.stop()

        let inbox = try await h.cli(["inbox", "--node", h.node(province), "--json"])
        expectExit(inbox, 0, h)
        let listed = try inbox.json()
        func entry(_ id: String) -> [String: Any]? { listed.first { $0["id"] as? String == id } }
        #expect(listed.count == 4, "\(inbox)")
        #expect(entry(late.id)?["kind"] as? String == "disposition")
        #expect(entry(late.id)?["due"] as? String == lateDue)
        #expect(entry(late.id)?["overdue"] as? Bool == true, "\(inbox)")
        #expect(entry(late.id)?["letter"] as? String == letter)
        #expect(entry(onTime)?["due"] as? String == onTimeDue)
        #expect(entry(onTime)?["overdue"] as? Bool == false, "\(inbox)")
        #expect(entry(undated)?["due"] == nil && entry(undated)?["overdue"] == nil, "\(inbox)")
        #expect(entry(letter)?["kind"] as? String == "letter")

        let human = try await h.cli(["inbox", "--node", h.node(province)])
        expectExit(human, 0, h)
        #expect(human.lines.filter { $0.contains("OVERDUE") }.count == 1, "\(human)")
        #expect(human.lines.contains { $0.contains(late.id) && $0.contains("OVERDUE (due \(lateDue))") }, "\(human)")
        #expect(human.lines.contains { $0.contains(onTime) && $0.contains("due \(onTimeDue)") }, "\(human)")

        // The trace marks the same disposition overdue, and only that one.
        let traced = try await waitForTrace(h, as: province, late.id) { object in
            hops(itemNode(late.id, in: tree(object))).contains("stored@\(province)")
        }
        let root = tree(traced)
        #expect(itemNode(late.id, in: root)?["overdue"] as? Bool == true)
        #expect(itemNode(late.id, in: root)?["highlight"] as? Bool == true)
        #expect(openParts(itemNode(late.id, in: root)) == ["\(province)/diskominfo: not read — OVERDUE (due \(lateDue))"])
        #expect(flatten(root).filter { $0["overdue"] as? Bool == true }.count == 1)
    }
}
