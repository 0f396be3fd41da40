import Foundation
import Testing
@testable import AgencyBus

// The real bus-broker process, spoken to from this test process over CURVE with the library's
// BrokerClient, so a test can send what no well-behaved node would: garbage frames, forged
// senders, bad signatures. Principle 6: each is refused with a reason and the broker keeps
// serving everyone else.

/// An in-process DEALER connected to the harness's broker as `agency` (or with any key).
private final class WireClient {
    let client: BrokerClient
    let key: SecretKey

    init(_ h: Harness, key: SecretKey) throws {
        let topology = try Topology.load(path: h.topologyPath)
        let brokerKey = try #require(topology.broker(h.brokerID).flatMap { try? PublicKey(text: $0.publicKey) })
        self.key = key
        client = try BrokerClient(endpoint: h.endpoint, brokerKey: brokerKey, identity: key)
    }

    convenience init(_ h: Harness, agency: String) throws {
        try self.init(h, key: KeyFile.load(at: NodeConfig.keyPath(in: h.node(agency))))
    }

    func send(_ frames: [Data]) throws { try client.socket.send(frames) }
    func send(_ command: ClientCommand) throws { try client.send(command) }

    /// The first broker command `matching` within `timeout` seconds (others are skipped), or nil.
    func next(timeout: Double = 5, matching: (BrokerCommand) -> Bool = { _ in true }) async throws -> BrokerCommand? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            // Short polls, yielding in between: a blocking zmq_poll should not hold a pool thread long.
            do {
                if let command = try client.receive(timeoutMs: 100), matching(command) { return command }
            } catch is ProtocolError {
                Issue.record("the broker sent something that is not protocol")
            }
            await Task.yield()
        }
        return nil
    }

    /// The REFUSED answer for `id`, as (code, reason).
    func refusal(of id: String, timeout: Double = 5) async throws -> (RefusalCode, String)? {
        let answer = try await next(timeout: timeout) {
            if case .refused(let refusedID, _, _) = $0 { return refusedID == id }
            if case .accepted(let e) = $0 { return (try? e.decode(Acceptance.self))?.items.contains { $0.id == id } == true }
            return false
        }
        guard case .refused(_, let code, let reason)? = answer else {
            Issue.record("no REFUSED for \(id); got \(String(describing: answer))")
            return nil
        }
        return (code, reason)
    }

    func isAlive() async throws -> Bool {
        try send(.ping)
        return try await next(timeout: 5) { if case .pong = $0 { return true } else { return false } } != nil
    }
}

/// A signed letter header from `from`, after `change` is applied, sealed with `key`.
private func letter(from: String = "kemenpanrb", to: [String] = ["bappenas"], key: SecretKey,
                    created: Timestamp = .now(), change: (inout Letter) -> Void = { _ in }) throws -> Envelope {
    var l = Fixtures.letter(from: from, to: to, created: created)
    change(&l)
    return try Envelope.seal(l, with: key)
}

@Suite("Broker wire protocol (integration)", .timeLimit(.minutes(2)))
struct BrokerWireIntegrationTests {
    @Test func garbageFramesAreRefusedAndTheBrokerKeepsServing() async throws {
        let h = try await Harness(agencies: ["kemenpanrb", "bappenas"])
        defer { h.shutdown() }
        let raw = try WireClient(h, agency: "kemenpanrb")
        let AGB1 = Data("AGB1".utf8)

        let cases: [([Data], RefusalCode)] = [
            ([Data("AGB2".utf8), Data("PING".utf8)], .unsupportedVersion),
            ([AGB1, Data("HELLO".utf8)], .malformed),
            ([AGB1], .malformed),
            ([AGB1, Data([0xFF, 0xFE])], .malformed),
            ([AGB1, Data("SUBMIT".utf8), Data("{not json".utf8), Data(count: 64)], .malformed),
            ([AGB1, Data("SUBMIT".utf8), Data("{}".utf8)], .malformed),
            ([AGB1, Data("PING".utf8), Data("extra".utf8)], .malformed),
            ([AGB1, Data("RECEIPT".utf8), Data("{}".utf8), Data(count: 64)], .malformed),
        ]
        for (frames, code) in cases {
            try raw.send(frames)
            let answer = try await raw.next { if case .refused = $0 { return true } else { return false } }
            guard case .refused(_, let got, let reason)? = answer else {
                Issue.record("no REFUSED for frames \(frames.map(\.count)); broker log:\n\(h.brokerLog)")
                continue
            }
            #expect(got == code, "\(frames.map { String(decoding: $0.prefix(16), as: UTF8.self) }): \(reason)")
            #expect(!reason.isEmpty)
        }
        #expect(try await raw.isAlive(), "the broker stopped answering after garbage")

        // Everyone else is still served.
        let sent = try await h.send(from: "bappenas", to: "kemenpanrb", subject: "Masih jalan")
        #expect(sent.exitCode == 0, "\(sent)\n\(h.brokerLog)")
        #expect(h.broker?.isRunning == true)
    }

    @Test func badSubmissionsAreRefusedWithTheirCodeAndStoreNothing() async throws {
        let h = try await Harness(agencies: ["kemenpanrb", "bappenas"])
        defer { h.shutdown() }
        let raw = try WireClient(h, agency: "kemenpanrb")
        let own = raw.key
        var refusedIDs: [String] = []

        func expectRefused(_ envelope: Envelope, _ code: RefusalCode, mentioning text: String,
                           sourceLocation: SourceLocation = #_sourceLocation) async throws {
            try raw.send(.submit(envelope))
            refusedIDs.append(envelope.id)
            let answer = try await raw.refusal(of: envelope.id)
            #expect(answer?.0 == code, "\(answer?.1 ?? "no answer")", sourceLocation: sourceLocation)
            #expect(answer?.1.contains(text) == true, "\(answer?.1 ?? "no answer")", sourceLocation: sourceLocation)
        }

        // Signed with our own key but claiming to be another agency.
        try await expectRefused(try letter(from: "bappenas", to: ["kemenpanrb"], key: own), .forbidden, mentioning: "bappenas")
        // Our name, someone else's signature.
        try await expectRefused(try letter(key: SecretKey.generate()), .badSignature, mentioning: "signature")
        // Unknown recipient agency, unknown unit.
        try await expectRefused(try letter(to: ["pemkab-fiktif"], key: own), .unknownRecipient, mentioning: "pemkab-fiktif")
        try await expectRefused(try letter(to: ["bappenas/dirjen"], key: own), .unknownRecipient, mentioning: "dirjen")
        // A rule broken inside the signed header.
        try await expectRefused(try letter(key: own) { $0.subject = " " }, .invalid, mentioning: "subject")
        try await expectRefused(try letter(key: own) { $0.classification = "rahasia-banget" }, .invalid, mentioning: "classification")
        // From too far in the future.
        let later = Timestamp(milliseconds: Timestamp.now().milliseconds + 3_600_000)
        try await expectRefused(try letter(key: own, created: later), .futureTimestamp, mentioning: "created")
        // Attachment frames that do not match the signed header.
        let withFile = try Fixtures.sealedLetter(key: own, attachments: [Data("asli".utf8)])
        let swapped = try Envelope(header: withFile.header, signature: withFile.signature, attachments: [Data("palsu".utf8)])
        try await expectRefused(swapped, .badSignature, mentioning: "attachments[0]")

        // A good letter, then another content under the same id.
        let good = try letter(key: own)
        try raw.send(.submit(good))
        let accepted = try await raw.next { if case .accepted = $0 { return true } else { return false } }
        #expect(accepted != nil, "\(h.brokerLog)")
        let conflicting = try letter(key: own) { $0.id = good.id; $0.subject = "Isi lain" }
        try await expectRefused(conflicting, .conflict, mentioning: good.id)

        #expect(try await raw.isAlive())
        await h.stopBroker()
        let queue = try BrokerStore(path: h.brokerData + "/queue.sqlite")
        #expect(try queue.message(id: good.id)?.hash == good.hash)
        for id in refusedIDs where id != good.id {
            #expect(try queue.message(id: id) == nil, "refused \(id) was stored")
        }
        #expect(try queue.pendingCounts() == ["bappenas": 1])
    }

    @Test func keysNotInTheTopologyGetNoAnswer() async throws {
        let h = try await Harness(agencies: ["kemenpanrb"])
        defer { h.shutdown() }
        let stranger = try WireClient(h, key: SecretKey.generate())
        try stranger.send(.ping)
        #expect(try await stranger.next(timeout: 1.5) == nil, "a key outside the topology got an answer")

        let member = try WireClient(h, agency: "kemenpanrb")
        #expect(try await member.isAlive())
        #expect(h.brokerLog.contains("connection refused"), "\(h.brokerLog)")
    }
}
