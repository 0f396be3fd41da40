import Foundation
import Testing
@testable import AgencyBus

private let AGB1 = Data("AGB1".utf8)
private func frames(_ texts: String...) -> [Data] { texts.map { Data($0.utf8) } }

/// Decodes `frames` as the broker does: behind a routing-id frame, so the slice does not start at 0.
private func decodeClient(_ frames: [Data]) throws -> ClientCommand {
    let withRoutingID = [Data([0, 0, 0x80, 0x01])] + frames
    return try ClientCommand.decode(withRoutingID.dropFirst())
}

private func decodeBroker(_ frames: [Data]) throws -> BrokerCommand {
    try BrokerCommand.decode(frames[...])
}

/// The ProtocolError `body` throws; records an issue if it succeeds or throws anything else.
private func protocolError(_ body: () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation) -> ProtocolError? {
    do {
        let value = try body()
        Issue.record("decoded garbage as \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let e as ProtocolError {
        return e
    } catch {
        Issue.record("threw \(type(of: error)) instead of ProtocolError: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite("Command codec")
struct CommandCodecTests {
    let key = SecretKey.generate()

    // MARK: - ClientCommand round trips

    @Test func submitRoundTrip() throws {
        let files = [Fixtures.bytes(300, seed: 1), Data(), Fixtures.bytes(5, seed: 2)]
        let envelope = try Fixtures.sealedLetter(key: key, attachments: files)
        let encoded = ClientCommand.submit(envelope).encode()
        #expect(encoded.count == 2 + 2 + files.count)
        #expect(encoded[0] == AGB1)
        #expect(encoded[1] == Data("SUBMIT".utf8))
        guard case .submit(let back) = try decodeClient(encoded) else {
            Issue.record("not decoded as SUBMIT"); return
        }
        #expect(back.header == envelope.header)
        #expect(back.signature == envelope.signature)
        #expect(back.attachments == files)
        try back.verify(with: key.publicKey)
        #expect(ClientCommand.submit(back).encode() == encoded)
    }

    @Test func receiptRoundTrip() throws {
        let receipt = Receipt(id: MessageID.generate(), from: "bappenas", created: .now(), to: "kemenpanrb",
                              items: [.init(id: MessageID.generate(), sha256: String(repeating: "0", count: 64), status: "stored")])
        let envelope = try Envelope.seal(receipt, with: key)
        let encoded = ClientCommand.receipt(envelope).encode()
        #expect(encoded.count == 4)
        guard case .receipt(let back) = try decodeClient(encoded) else {
            Issue.record("not decoded as RECEIPT"); return
        }
        #expect(back.header == envelope.header)
        #expect(back.signature == envelope.signature)
        #expect(try back.decode(Receipt.self).items == receipt.items)
    }

    @Test func subscribeAndPingRoundTrip() throws {
        #expect(ClientCommand.subscribe.encode() == [AGB1, Data("SUBSCRIBE".utf8)])
        #expect(ClientCommand.ping.encode() == [AGB1, Data("PING".utf8)])
        guard case .subscribe = try decodeClient(ClientCommand.subscribe.encode()) else { Issue.record("SUBSCRIBE"); return }
        guard case .ping = try decodeClient(ClientCommand.ping.encode()) else { Issue.record("PING"); return }
    }

    @Test func clientCommandNames() throws {
        let e = try Fixtures.sealedLetter(key: key)
        #expect([ClientCommand.submit(e), .subscribe, .receipt(e), .ping, .trace(id: e.id)].map(\.name)
                == ["SUBMIT", "SUBSCRIBE", "RECEIPT", "PING", "TRACE"])
    }

    // MARK: - BrokerCommand round trips

    @Test func acceptedRoundTrip() throws {
        let acceptance = Acceptance(id: MessageID.generate(), from: "nasional", created: Timestamp.now().text, to: "kemenpanrb",
                                    items: [.init(id: MessageID.generate(), sha256: String(repeating: "f", count: 64))])
        let envelope = try Envelope.seal(acceptance, with: key)
        let encoded = BrokerCommand.accepted(envelope).encode()
        guard case .accepted(let back) = try decodeBroker(encoded) else { Issue.record("ACCEPTED"); return }
        #expect(back.header == envelope.header)
        #expect(try back.decode(Acceptance.self).items == acceptance.items)
        #expect(BrokerCommand.accepted(back).encode() == encoded)
    }

    @Test func deliverRoundTrip() throws {
        let files = [Fixtures.bytes(1234, seed: 9)]
        let envelope = try Fixtures.sealedLetter(key: key, attachments: files)
        let encoded = BrokerCommand.deliver(envelope).encode()
        guard case .deliver(let back) = try decodeBroker(encoded) else { Issue.record("DELIVER"); return }
        #expect(back.attachments == files)
        try back.verify(with: key.publicKey)
        #expect(BrokerCommand.deliver(back).encode() == encoded)
    }

    @Test(arguments: RefusalCode.allCases)
    func refusedRoundTrip(code: RefusalCode) throws {
        let id = MessageID.generate()
        let reason = "subject: must not be empty — perihal kosong"
        let encoded = BrokerCommand.refused(id: id, code: code, reason: reason).encode()
        #expect(encoded.count == 5)
        guard case .refused(let backID, let backCode, let backReason) = try decodeBroker(encoded) else {
            Issue.record("REFUSED"); return
        }
        #expect(backID == id)
        #expect(backCode == code)
        #expect(backReason == reason)
    }

    @Test func refusedWithUnknownIDRoundTrip() throws {
        guard case .refused(let id, let code, _) = try decodeBroker(BrokerCommand.refused(id: "-", code: .malformed, reason: "x").encode()) else {
            Issue.record("REFUSED"); return
        }
        #expect(id == "-")
        #expect(code == .malformed)
    }

    @Test func subscribedRoundTrip() throws {
        guard case .subscribed(let agency) = try decodeBroker(BrokerCommand.subscribed(agency: "pemkot-semarang").encode()) else {
            Issue.record("SUBSCRIBED"); return
        }
        #expect(agency == "pemkot-semarang")
    }

    @Test(arguments: [SessionState.notSubscribed, .subscribed, .replaced])
    func pongRoundTrip(state: SessionState) throws {
        let encoded = BrokerCommand.pong(state).encode()
        #expect(encoded == [AGB1, Data("PONG".utf8), Data(state.rawValue.utf8)])
        guard case .pong(let back) = try decodeBroker(encoded) else { Issue.record("PONG"); return }
        #expect(back == state)
    }

    @Test func sessionStateWireValues() {
        #expect(SessionState.notSubscribed.rawValue == "0")
        #expect(SessionState.subscribed.rawValue == "1")
        #expect(SessionState.replaced.rawValue == "2")
    }

    @Test func traceRoundTrip() throws {
        let id = MessageID.generate()
        let encoded = ClientCommand.trace(id: id).encode()
        #expect(encoded == [AGB1, Data("TRACE".utf8), Data(id.utf8)])
        guard case .trace(let back) = try decodeClient(encoded) else { Issue.record("TRACE"); return }
        #expect(back == id)
        #expect(ClientCommand.trace(id: id).name == "TRACE")
    }

    @Test func tracedRoundTrip() throws {
        let report = Data("{\"letter\":\"x\",\"events\":[]}".utf8)
        let encoded = BrokerCommand.traced(report).encode()
        #expect(encoded == [AGB1, Data("TRACED".utf8), report])
        guard case .traced(let back) = try decodeBroker(encoded) else { Issue.record("TRACED"); return }
        #expect(back == report)
    }

    // MARK: - Garbage never decodes and never crashes

    @Test func emptyMessage() {
        #expect(protocolError { try decodeClient([]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([]) }?.code == .malformed)
    }

    @Test func wrongFirstFrame() {
        for first in ["AGB2", "agb1", "", "AGB1 ", "ZMTP"] {
            #expect(protocolError { try decodeClient([Data(first.utf8), Data("PING".utf8)]) }?.code == .unsupportedVersion)
            #expect(protocolError { try decodeBroker([Data(first.utf8), Data("PONG".utf8), Data("1".utf8)]) }?.code == .unsupportedVersion)
        }
    }

    @Test func missingOrEmptyCommandFrame() {
        #expect(protocolError { try decodeClient([AGB1]) }?.code == .malformed)
        #expect(protocolError { try decodeClient([AGB1, Data()]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1]) }?.code == .malformed)
    }

    @Test func unknownCommand() {
        let client = protocolError { try decodeClient(frames("AGB1", "DELIVER")) }
        #expect(client?.code == .malformed)
        #expect(client?.reason.contains("DELIVER") == true)
        #expect(protocolError { try decodeClient(frames("AGB1", "ping")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "SUBMIT")) }?.code == .malformed)
        // A huge name is cut in the reason.
        let long = protocolError { try decodeClient([AGB1, Data(String(repeating: "X", count: 10_000).utf8)]) }
        #expect(long?.code == .malformed)
        #expect((long?.reason.count ?? .max) < 200)
    }

    @Test func nonUTF8CommandOrArguments() {
        let bad = Data([0xFF, 0xFE, 0xC0])
        #expect(protocolError { try decodeClient([AGB1, bad]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1, bad]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1, Data("SUBSCRIBED".utf8), bad]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1, Data("REFUSED".utf8), bad, Data("malformed".utf8), Data("r".utf8)]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1, Data("REFUSED".utf8), Data("-".utf8), Data("malformed".utf8), bad]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1, Data("PONG".utf8), bad]) }?.code == .malformed)
    }

    @Test func wrongFrameCounts() throws {
        let e = try Fixtures.sealedLetter(key: key)
        let h = e.header, s = e.signature
        // Client side.
        #expect(protocolError { try decodeClient(frames("AGB1", "SUBMIT")) }?.code == .malformed)
        #expect(protocolError { try decodeClient([AGB1, Data("SUBMIT".utf8), h]) }?.code == .malformed)
        #expect(protocolError { try decodeClient(frames("AGB1", "RECEIPT")) }?.code == .malformed)
        #expect(protocolError { try decodeClient([AGB1, Data("RECEIPT".utf8), h]) }?.code == .malformed)
        #expect(protocolError { try decodeClient([AGB1, Data("RECEIPT".utf8), h, s, Data()]) }?.code == .malformed)
        #expect(protocolError { try decodeClient(frames("AGB1", "SUBSCRIBE", "kemenpanrb")) }?.code == .malformed)
        #expect(protocolError { try decodeClient([AGB1, Data("PING".utf8), Data()]) }?.code == .malformed)
        // Broker side.
        #expect(protocolError { try decodeBroker(frames("AGB1", "ACCEPTED")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1, Data("ACCEPTED".utf8), h]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1, Data("ACCEPTED".utf8), h, s, Data()]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1, Data("DELIVER".utf8), h]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "REFUSED", "-", "malformed")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "REFUSED", "-", "malformed", "a", "b")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "SUBSCRIBED")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "SUBSCRIBED", "a", "b")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "PONG")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "PONG", "1", "1")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "PONG", "3")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "PONG", "")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "TRACED")) }?.code == .malformed)
        #expect(protocolError { try decodeBroker(frames("AGB1", "TRACED", "{}", "{}")) }?.code == .malformed)
        #expect(protocolError { try decodeClient(frames("AGB1", "TRACE")) }?.code == .malformed)
        #expect(protocolError { try decodeClient(frames("AGB1", "TRACE", "not-a-ulid")) }?.code == .malformed)
        #expect(protocolError { try decodeClient(frames("AGB1", "TRACE", MessageID.generate(), MessageID.generate())) }?.code == .malformed)
        #expect(protocolError { try decodeClient([AGB1, Data("TRACE".utf8), Data([0xFF])]) }?.code == .malformed)
    }

    @Test func refusedWithUnknownCode() {
        let e = protocolError { try decodeBroker(frames("AGB1", "REFUSED", "-", "no-such-code", "why")) }
        #expect(e?.code == .malformed)
    }

    @Test func envelopeFramesAreCheckedWhileDecoding() throws {
        let e = try Fixtures.sealedLetter(key: key)
        // A garbage header or a short signature inside SUBMIT / DELIVER is a ProtocolError too.
        #expect(protocolError { try decodeClient([AGB1, Data("SUBMIT".utf8), Data("{}".utf8), e.signature]) }?.code == .malformed)
        #expect(protocolError { try decodeClient([AGB1, Data("SUBMIT".utf8), e.header, Data([1, 2, 3])]) }?.code == .malformed)
        #expect(protocolError { try decodeBroker([AGB1, Data("DELIVER".utf8), Data(), e.signature]) }?.code == .malformed)
        #expect(protocolError { try decodeClient([AGB1, Data("RECEIPT".utf8), Data([0xFF]), e.signature]) }?.code == .malformed)
    }

    @Test func randomGarbageNeverCrashes() throws {
        // Deterministic fuzz over frame counts, names and contents: every outcome is either
        // a decoded command or a ProtocolError.
        let e = try Fixtures.sealedLetter(key: key, attachments: [Data([1, 2, 3])])
        let names = ["SUBMIT", "SUBSCRIBE", "RECEIPT", "PING", "TRACE", "ACCEPTED", "REFUSED", "DELIVER", "SUBSCRIBED", "PONG", "TRACED", "X", ""]
        let pool: [Data] = [Data(), Data([0]), Data([0xFF, 0xFF]), Data("1".utf8), Data("malformed".utf8), e.header,
                            e.signature, Data("{\"v\":1}".utf8), AGB1, Fixtures.bytes(64, seed: 3), Data("-".utf8), Data("2".utf8),
                            Data(e.id.utf8)]
        var rng = SystemRandomNumberGenerator()
        var decoded = 0
        for _ in 0..<3000 {
            var fs: [Data] = [Int.random(in: 0..<10, using: &rng) == 0 ? Data("AGB0".utf8) : AGB1]
            if Int.random(in: 0..<20, using: &rng) > 0 { fs.append(Data(names.randomElement(using: &rng)!.utf8)) }
            for _ in 0..<Int.random(in: 0...5, using: &rng) { fs.append(pool.randomElement(using: &rng)!) }
            let length = Int.random(in: 0...fs.count, using: &rng)
            let cut = Array(fs.prefix(length))
            for decode in [{ _ = try decodeClient(cut) }, { _ = try decodeBroker(cut) }] {
                do { try decode(); decoded += 1 } catch is ProtocolError {} catch {
                    Issue.record("non-protocol error for \(cut.map(\.count)): \(error)")
                }
            }
        }
        #expect(decoded > 0)  // some random sequences are valid commands
    }
}
