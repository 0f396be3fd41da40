import Foundation
import Testing
@testable import AgencyBus

// End-to-end: real bus-broker and bus-cli processes, each test in its own temp dir with its
// own broker on its own port (see Harness.swift).

private let sender = "kemenpanrb"
private let recipient = "bappenas"

/// Records an issue with the whole command output and the broker's log when the exit code differs.
private func expectExit(_ result: CommandResult, _ code: Int32, _ h: Harness, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.exitCode == code, "\(result)\n--- broker log ---\n\(h.brokerLog)", sourceLocation: sourceLocation)
}

/// The single JSON object a `send --json` printed, with its id.
private func sendOutcome(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> (id: String, status: String) {
    let objects = try result.json()
    try #require(objects.count == 1, "\(result)", sourceLocation: sourceLocation)
    let id = try #require(objects[0]["id"] as? String, sourceLocation: sourceLocation)
    let status = try #require(objects[0]["status"] as? String, sourceLocation: sourceLocation)
    #expect(MessageID.isValid(id), sourceLocation: sourceLocation)
    return (id, status)
}

/// Sends and requires "accepted"; returns the letter id.
private func sendAccepted(_ h: Harness, subject: String, to: String = recipient, extra: [String] = [],
                          timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    let result = try await h.send(from: sender, to: to, subject: subject, extra: extra, timeout: timeout)
    expectExit(result, 0, h, sourceLocation: sourceLocation)
    let outcome = try sendOutcome(result, sourceLocation: sourceLocation)
    #expect(outcome.status == "accepted", "\(result)", sourceLocation: sourceLocation)
    return outcome.id
}

/// Rows in a node's inbox (direction 'in') with this id.
private func inboxRows(_ h: Harness, _ agency: String, id: String) throws -> Int64 {
    let store = try h.nodeStore(agency)
    return try store.db.queryOne("SELECT COUNT(*) FROM messages WHERE id = ? AND received_at IS NOT NULL", id) { $0.int(0) } ?? -1
}

@Suite("Relay (integration)", .timeLimit(.minutes(2)))
struct RelayIntegrationTests {
    // MARK: 1

    @Test func offlineRecipientGetsTheLetterWhenItSubscribes() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }

        // The recipient is not running: the broker still accepts.
        let id = try await sendAccepted(h, subject: "Undangan rapat koordinasi", to: "bappenas/settama")

        let subscription = try h.subscribe(recipient)
        let lines = try await subscription.waitForLines(1, timeout: 10)
        await subscription.stop()
        let letter = try #require(try parseJSONLines(lines.joined(separator: "\n")).first)
        #expect(letter["id"] as? String == id)
        #expect(letter["kind"] as? String == "letter")
        #expect(letter["from"] as? String == sender)
        #expect(letter["to"] as? [String] == ["bappenas/settama"])
        #expect(letter["subject"] as? String == "Undangan rapat koordinasi")
        #expect(letter["status"] as? String == "stored")
        #expect(subscription.process.terminationStatus == 0, "subscribe exit after SIGTERM\n\(subscription.stderr)")

        let inbox = try await h.cli(["inbox", "--node", h.node(recipient), "--json"])
        expectExit(inbox, 0, h)
        let listed = try inbox.json()
        #expect(listed.count == 1, "\(inbox)")
        #expect(listed.first?["id"] as? String == id)
        #expect(listed.first?["subject"] as? String == "Undangan rapat koordinasi")

        let shown = try await h.cli(["show", "--node", h.node(recipient), "--json", id])
        expectExit(shown, 0, h)
        let detail = try #require(try shown.json().first)
        #expect(detail["signature"] as? String == "valid")
        #expect(detail["body"] as? String == "Dengan hormat.")
        #expect(detail["direction"] as? String == "in")
    }

    // MARK: 2

    @Test func theSameSubmissionTwiceLandsOnce() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }

        // Phase 1: resubmitted while the recipient is offline (as if the acceptance was lost).
        let first = try await sendAccepted(h, subject: "Surat pertama")
        try h.nodeStore(sender).setState(id: first, state: "queued")
        let outbox = try await h.cli(["outbox", "--node", h.node(sender), "--json"])
        #expect(try outbox.json().compactMap { $0["id"] as? String } == [first], "\(outbox)")

        // The next send flushes the outbox: the old envelope goes again, verbatim.
        let second = try await sendAccepted(h, subject: "Surat kedua")
        #expect(try h.nodeStore(sender).message(id: first)?.state == "accepted", "the resubmission was accepted again")

        let subscription = try h.subscribe(recipient)
        let delivered = try await subscription.waitForLines(2, timeout: 10)
        #expect(try parseJSONLines(delivered.joined(separator: "\n")).compactMap { $0["id"] as? String } == [first, second])

        // Phase 2: resubmitted after it was delivered and receipted, while the recipient is live.
        try h.nodeStore(sender).setState(id: first, state: "queued")
        let third = try await sendAccepted(h, subject: "Surat ketiga")
        #expect(try h.nodeStore(sender).message(id: first)?.state == "accepted")
        let all = try await subscription.waitForLines(3, timeout: 10)
        // Give a duplicate, if there were one, time to arrive.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        await subscription.stop()
        let ids = try parseJSONLines(subscription.lines.joined(separator: "\n")).compactMap { $0["id"] as? String }
        #expect(ids == [first, second, third], "subscribe printed \(all)")

        #expect(try inboxRows(h, recipient, id: first) == 1)
        #expect(try inboxRows(h, recipient, id: second) == 1)
        #expect(try inboxRows(h, recipient, id: third) == 1)
        #expect(try h.nodeStore(recipient).count(direction: "in") == 3)
        #expect(try h.nodeStore(sender).outbox().isEmpty)
    }

    // MARK: 3

    @Test func brokerKilledAfterAcceptingStillDelivers() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }

        let id = try await sendAccepted(h, subject: "Sebelum listrik padam")
        await h.crashBroker()  // kill -9 right after "accepted"
        let endpoint = h.endpoint
        try await h.startBroker(bind: endpoint)
        #expect(h.endpoint == endpoint)

        let subscription = try h.subscribe(recipient)
        let first = try await subscription.waitForLines(1, timeout: 10)
        #expect(try parseJSONLines(first.joined(separator: "\n")).first?["id"] as? String == id, "\(h.brokerLog)")

        // A second broker on the same data directory is refused (it would deliver on its own).
        let second = try await h.brokerTool(["--topology", h.topologyPath, "--broker", h.brokerID, "--data", h.brokerData,
                                             "--bind", "tcp://127.0.0.1:*"], timeout: 10)
        #expect(second.exitCode == 78 && second.stderr.contains("another bus-broker is using"), "\(second)")

        // The restarted broker accepts and relays new letters too.
        let later = try await sendAccepted(h, subject: "Sesudah restart")
        let both = try await subscription.waitForLines(2, timeout: 10)
        await subscription.stop()
        #expect(try parseJSONLines(both.joined(separator: "\n")).compactMap { $0["id"] as? String } == [id, later])

        await h.stopBroker()
        let queue = try BrokerStore(path: h.brokerData + "/queue.sqlite")
        #expect(try queue.db.integrityCheck() == "ok")
        #expect(try queue.delivery(messageID: id, recipient: recipient)?.state == .stored)
        #expect(try inboxRows(h, recipient, id: id) == 1)
    }

    // MARK: 4

    @Test func twentyMiBAttachmentArrivesIntact() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }

        let size = 20 << 20
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        let original = try #require(try random.read(upToCount: size))
        try random.close()
        try #require(original.count == size)
        let file = h.directory.file("pindaian-arsip.pdf")
        try original.write(to: URL(fileURLWithPath: file))
        let digest = SHA256.hash(original).hexString

        let id = try await sendAccepted(h, subject: "Salinan arsip", extra: ["--attach", file], timeout: 30)

        let subscription = try h.subscribe(recipient)
        let lines = try await subscription.waitForLines(1, timeout: 30)
        await subscription.stop()
        let received = try #require(try parseJSONLines(lines.joined(separator: "\n")).first)
        #expect(received["id"] as? String == id)

        let saveDir = h.directory.file("saved")
        let shown = try await h.cli(["show", "--node", h.node(recipient), "--json", "--save-attachments", saveDir, id])
        expectExit(shown, 0, h)
        let detail = try #require(try shown.json().first)
        #expect(detail["signature"] as? String == "valid")
        let attachments = try #require(detail["attachments"] as? [[String: Any]])
        try #require(attachments.count == 1)
        #expect(attachments[0]["name"] as? String == "pindaian-arsip.pdf")
        #expect(attachments[0]["size"] as? Int == size)
        #expect(attachments[0]["mediaType"] as? String == "application/pdf")
        #expect(attachments[0]["sha256"] as? String == digest)

        // The header the recipient holds is byte for byte the one the sender signed.
        let sentShown = try await h.cli(["show", "--node", h.node(sender), "--json", id])
        #expect(try sentShown.json().first?["sha256"] as? String == detail["sha256"] as? String)

        let saved = try #require(FileManager.default.contents(atPath: saveDir + "/pindaian-arsip.pdf"))
        #expect(saved.count == size)
        #expect(saved == original)
    }

    // MARK: 5

    @Test func unreachableBrokerKeepsTheLetterQueuedAndTheNextSendFlushesIt() async throws {
        let h = try await Harness(agencies: [sender, recipient], startBroker: false)
        defer { h.shutdown() }
        try await h.setEndpoint("tcp://127.0.0.1:\(try Harness.freePort())")

        let queued = try await h.send(from: sender, to: recipient, subject: "Ditunda", timeout: 2)
        expectExit(queued, 69, h)
        #expect(queued.seconds < 8, "send took \(queued.seconds) s with --timeout 2")
        let outcome = try sendOutcome(queued)
        #expect(outcome.status == "queued")
        #expect(queued.stderr.contains("Error:"))
        #expect(queued.stderr.contains("outbox"))

        let outbox = try await h.cli(["outbox", "--node", h.node(sender), "--json"])
        expectExit(outbox, 0, h)
        let waiting = try outbox.json()
        #expect(waiting.compactMap { $0["id"] as? String } == [outcome.id], "\(outbox)")
        #expect(waiting.first?["status"] as? String == "queued")

        // The broker comes up on the endpoint the topology names.
        try await h.startBroker(bind: h.endpoint)
        let next = try await sendAccepted(h, subject: "Berikutnya")
        #expect(try h.nodeStore(sender).message(id: outcome.id)?.state == "accepted", "\(h.brokerLog)")
        let empty = try await h.cli(["outbox", "--node", h.node(sender), "--json"])
        expectExit(empty, 0, h)
        #expect(empty.stdout.isEmpty, "\(empty)")

        let subscription = try h.subscribe(recipient)
        let lines = try await subscription.waitForLines(2, timeout: 10)
        await subscription.stop()
        #expect(try parseJSONLines(lines.joined(separator: "\n")).compactMap { $0["id"] as? String } == [outcome.id, next])
    }

    // MARK: 6

    @Test func usageAndDataErrorsExitWithTheirCodes() async throws {
        let h = try await Harness(agencies: [sender, recipient], startBroker: false)
        defer { h.shutdown() }
        try await h.setEndpoint("tcp://127.0.0.1:\(try Harness.freePort())")
        let node = h.node(sender)
        let base = ["send", "--node", node, "--subject", "Perihal", "--body", "Isi", "--timeout", "2"]

        // Usage errors: 64, "Error:" on stderr, nothing on stdout.
        let typo = try await h.cli(base + ["--to", recipient, "--jsno"])
        expectExit(typo, 64, h)
        #expect(typo.stderr.hasPrefix("Error: unknown option '--jsno' (did you mean '--json'?)"), "\(typo)")
        #expect(typo.stderr.contains("Usage: bus-cli send"))
        #expect(typo.stderr.contains("See 'bus-cli send --help'."))
        #expect(typo.stdout.isEmpty)

        let noTo = try await h.cli(base)
        expectExit(noTo, 64, h)
        #expect(noTo.stderr.hasPrefix("Error: missing required option '--to"), "\(noTo)")

        let verb = try await h.cli(["sned", "--node", node])
        expectExit(verb, 64, h)
        #expect(verb.stderr.contains("Error: unknown command 'sned' (did you mean 'send'?)"), "\(verb)")

        let noArguments = try await h.cli([])
        expectExit(noArguments, 64, h)

        // Data errors: 65, the field named, nothing queued.
        let unknownAgency = try await h.cli(base + ["--to", "pemkab-fiktif"])
        expectExit(unknownAgency, 65, h)
        #expect(unknownAgency.stderr.hasPrefix("Error:"), "\(unknownAgency)")
        #expect(unknownAgency.stderr.contains("unknown agency 'pemkab-fiktif'"))

        let unknownUnit = try await h.cli(base + ["--to", "bappenas/dirjen"])
        expectExit(unknownUnit, 65, h)
        #expect(unknownUnit.stderr.contains("has no unit 'dirjen'"), "\(unknownUnit)")

        let classification = try await h.cli(base + ["--to", recipient, "--classification", "rahasia-banget"])
        expectExit(classification, 65, h)
        #expect(classification.stderr.hasPrefix("Error: --classification:"), "\(classification)")
        #expect(classification.stderr.contains("biasa, terbatas, rahasia, sangat-rahasia"))

        let date = try await h.cli(base + ["--to", recipient, "--date", "2026-02-30"])
        expectExit(date, 65, h)
        #expect(date.stderr.contains("--date"), "\(date)")

        let missingFile = try await h.cli(base + ["--to", recipient, "--attach", h.directory.file("no-such.pdf")])
        expectExit(missingFile, 65, h)
        #expect(missingFile.stderr.contains("attach"), "\(missingFile)")

        for r in [unknownAgency, unknownUnit, classification, date, missingFile] {
            #expect(r.stdout.isEmpty, "\(r)")
        }
        #expect(try h.nodeStore(sender).count(direction: "out") == 0, "a refused send changed the outbox")
    }

    // MARK: 7

    @Test func receiptsFlowBackToTheSender() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }

        let id = try await sendAccepted(h, subject: "Mohon tanda terima")
        let recipientSubscription = try h.subscribe(recipient)
        try await recipientSubscription.waitForLines(1, timeout: 10)

        let senderSubscription = try h.subscribe(sender)
        let lines = try await senderSubscription.waitForLines(1, timeout: 10)
        await senderSubscription.stop()
        await recipientSubscription.stop()
        let receipt = try #require(try parseJSONLines(lines.joined(separator: "\n")).first)
        #expect(receipt["kind"] as? String == "receipt", "\(lines)")
        #expect(receipt["id"] as? String == id)
        #expect(receipt["from"] as? String == recipient)
        #expect(receipt["status"] as? String == "stored")
        #expect(receipt["subject"] as? String == "Mohon tanda terima")

        let shown = try await h.cli(["show", "--node", h.node(sender), "--json", id])
        expectExit(shown, 0, h)
        let detail = try #require(try shown.json().first)
        #expect(detail["direction"] as? String == "out")
        #expect(detail["status"] as? String == "accepted")
        let deliveries = try #require(detail["deliveries"] as? [[String: Any]], "\(shown)")
        #expect(deliveries.count == 1)
        #expect(deliveries.first?["recipient"] as? String == recipient)
        #expect(deliveries.first?["status"] as? String == "stored")
        #expect((deliveries.first?["at"] as? String).flatMap(Timestamp.init(text:)) != nil)

        // The receipt is evidence, not a letter: the sender's inbox stays empty.
        #expect(try h.nodeStore(sender).count(direction: "in") == 0)
    }

    // MARK: 8

    @Test func aLetterBetweenUnitsOfOneAgencyReachesItsInbox() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }

        // An internal memo (setmen → menteri) with a copy to another agency.
        let id = try await sendAccepted(h, subject: "Nota dinas internal", to: "\(sender)/menteri",
                                        extra: ["--from-unit", "setmen", "--cc", recipient])
        let other = try h.subscribe(recipient)
        try await other.waitForLines(1, timeout: 10)
        await other.stop()
        #expect(try inboxRows(h, recipient, id: id) == 1)

        let own = try h.subscribe(sender)
        // Its own receipt for the copy to bappenas comes back, and the memo itself should arrive.
        try await own.waitForLines(1, timeout: 10)
        try await Task.sleep(nanoseconds: 1_500_000_000)
        await own.stop()
        let inbox = try await h.cli(["inbox", "--node", h.node(sender), "--unit", "menteri", "--json"])
        expectExit(inbox, 0, h)
        let listed = try inbox.json().compactMap { $0["id"] as? String }
        let rows = try inboxRows(h, sender, id: id)
        // The sender's own outbox row is the same message: being delivered marks it received.
        #expect(listed == [id], "\(inbox)\n\(own.stdout)")
        #expect(rows == 1)
    }
}
