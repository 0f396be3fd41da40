import CZMQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import AgencyBus

// The security claims of docs/security.md, each proved against the real bus-broker process
// (and real bus-cli nodes where a node's behaviour is the claim). Hostile peers are in-process
// DEALERs built from the library's ZMQSocket, so a test can be what no well-behaved node is:
// a stranger, an impostor, a plain-text client, a forger, a replayer.
//
// BrokerWireIntegrationTests covers the refusal code of each broker check one by one; these
// tests cover the attacks: who can connect at all, what a captured or altered message can do,
// what revocation and a loose key file change.

private let sender = "kemenpanrb"
private let recipient = "bappenas"
private let AGB1 = Data("AGB1".utf8)
private let SUBMIT = Data("SUBMIT".utf8)

// MARK: - Helpers

/// libzmq's monitor events for one socket (`zmq_socket_monitor`), read on a PAIR socket in the
/// same context: lets a test see that a handshake failed or a connection was dropped, which the
/// socket itself never reports.
private final class SocketEvents {
    private let pair: ZMQSocket
    private(set) var seen: [(event: Int32, value: UInt32)] = []

    init(watching socket: ZMQSocket, context: ZMQContext) throws {
        let address = "inproc://monitor-\(UUID().uuidString)"
        try ZMQError.check("zmq_socket_monitor") { zmq_socket_monitor(socket.handle, address, ZMQ_EVENT_ALL) }
        pair = try ZMQSocket(context: context, kind: .pair, linger: 0)
        try pair.connect(address)
    }

    /// Reads what has arrived: each event is two frames, 6 bytes (event u16, value u32, little
    /// endian as libzmq writes them on this platform) and the endpoint.
    private func drain() throws {
        while let msg = try pair.receive(dontWait: true) {
            guard let head = msg.frames.first, head.count >= 6 else { continue }
            let b = [UInt8](head)
            let event = Int32(UInt16(b[0]) | UInt16(b[1]) << 8)
            let value = UInt32(b[2]) | UInt32(b[3]) << 8 | UInt32(b[4]) << 16 | UInt32(b[5]) << 24
            seen.append((event, value))
        }
    }

    /// The first event among `wanted` seen so far or within `timeout` seconds, or nil.
    func wait(for wanted: Set<Int32>, timeout: Double) async throws -> (event: Int32, value: UInt32)? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            try drain()
            if let hit = seen.first(where: { wanted.contains($0.event) }) { return hit }
            if Date() >= deadline { return nil }
            _ = try ZMQPoller.pollIn([pair], timeoutMs: 50)
            await Task.yield()
        }
    }

    func hasSeen(_ event: Int32) throws -> Bool {
        try drain()
        return seen.contains { $0.event == event }
    }
}

/// Monitor events that mean "this connection did not get through the handshake, or was cut".
private let handshakeFailedOrDropped: Set<Int32> = [
    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
    ZMQ_EVENT_DISCONNECTED,
]

/// An in-process DEALER to the harness's broker, set up as a node's (BrokerClient's options)
/// but with whatever credentials the test wants: an agency's real key, a stranger's key, an
/// agency's public key with the wrong secret, or no CURVE at all (`key == nil`: the NULL
/// mechanism). The monitor is attached before connecting, so no handshake event is missed.
private final class RawNode {
    let context = ZMQContext()
    let socket: ZMQSocket
    let key: SecretKey?
    let events: SocketEvents

    init(_ h: Harness, key: SecretKey?, claimingCurvePublicKey claimed: Data? = nil) throws {
        let topology = try Topology.load(path: h.topologyPath)
        let brokerKey = try #require(topology.broker(h.brokerID).flatMap { try? PublicKey(text: $0.publicKey) })
        self.key = key
        socket = try ZMQSocket(context: context, kind: .dealer, linger: 0)
        if let key {
            try socket.makeCurveClient(publicKey: claimed ?? key.publicKey.curvePublicKey, secretKey: key.curveSecretKey,
                                       serverKey: brokerKey.curvePublicKey)
        }
        try socket.setOption(ZMQ_MAXMSGSIZE, Limits.maxWireMessageBytes)
        try socket.setOption(ZMQ_RECONNECT_IVL, Int32(100))
        try socket.setOption(ZMQ_RECONNECT_IVL_MAX, Int32(2_000))
        events = try SocketEvents(watching: socket, context: context)
        try socket.connect(h.endpoint)
    }

    /// As `agency`, with the key from its node directory.
    convenience init(_ h: Harness, agency: String) throws {
        try self.init(h, key: KeyFile.load(at: NodeConfig.keyPath(in: h.node(agency))))
    }

    var secretKey: SecretKey { key! }  // force unwrap: only called on nodes built with a key

    func send(_ frames: [Data]) throws { try socket.send(frames) }
    func send(_ command: ClientCommand) throws { try socket.send(command.encode()) }

    /// The first broker command `matching` within `timeout` seconds (others are skipped), or nil.
    func next(timeout: Double = 5, matching: (BrokerCommand) -> Bool = { _ in true }) async throws -> BrokerCommand? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            // Short polls with a yield in between: a blocking zmq_poll should not hold a pool thread.
            if try ZMQPoller.pollIn([socket], timeoutMs: 50)[0], let msg = try socket.receive(dontWait: true) {
                do {
                    let command = try BrokerCommand.decode(msg.frames[...])
                    if matching(command) { return command }
                } catch {
                    Issue.record("the broker sent something that is not protocol: \(error)")
                }
            }
            await Task.yield()
        }
        return nil
    }

    /// The broker's verdict on the submission in flight: the next ACCEPTED or REFUSED.
    func verdict(timeout: Double = 5) async throws -> BrokerCommand? {
        try await next(timeout: timeout) { $0.refusal != nil || $0.isAccepted }
    }

    func isAlive(timeout: Double = 10) async throws -> Bool {
        try send(.ping)
        return try await next(timeout: timeout) { if case .pong = $0 { return true } else { return false } } != nil
    }
}

private extension BrokerCommand {
    var refusal: (id: String, code: RefusalCode, reason: String)? {
        if case .refused(let id, let code, let reason) = self { return (id, code, reason) }
        return nil
    }
    var isAccepted: Bool { if case .accepted = self { return true } else { return false } }
    /// The items of an ACCEPTED (nil for anything else, or an acceptance that does not decode).
    var acceptedItems: [Acceptance.Item]? {
        guard case .accepted(let e) = self else { return nil }
        return try? e.decode(Acceptance.self).items
    }
}

/// A letter from `from` sealed with `key`, after `change`; `created` defaults to now.
private func sealedLetter(key: SecretKey, from: String = sender, to: [String] = [recipient], subject: String,
                          created: Timestamp = .now(), attachments: [Data] = []) throws -> Envelope {
    let l = Fixtures.letter(from: from, to: to, subject: subject, attachments: attachments, created: created)
    return try Envelope.seal(l, attachments: attachments, with: key)
}

/// `bus-cli send --json` that must be accepted; returns the letter id.
private func sendAccepted(_ h: Harness, from: String = sender, to: String = recipient, subject: String,
                          body: String = "Dengan hormat.", extra: [String] = [],
                          sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    let result = try await h.send(from: from, to: to, subject: subject, body: body, extra: extra)
    #expect(result.exitCode == 0, "\(result)\n--- broker log ---\n\(h.brokerLog)", sourceLocation: sourceLocation)
    let object = try #require(try result.json().first, "\(result)", sourceLocation: sourceLocation)
    #expect(object["status"] as? String == "accepted", "\(result)", sourceLocation: sourceLocation)
    return try #require(object["id"] as? String, "\(result)", sourceLocation: sourceLocation)
}

/// The ids a `subscribe --json` printed for letters.
private func letterIDs(_ lines: [String]) throws -> [String] {
    try parseJSONLines(lines.joined(separator: "\n")).filter { $0["kind"] as? String == "letter" }.compactMap { $0["id"] as? String }
}

/// The first broker log line after the first `skip` lines that contains every one of `parts`,
/// waiting up to `timeout` seconds for it.
private func brokerLogLine(_ h: Harness, containing parts: [String], skip: Int = 0, timeout: Double = 10) async -> String? {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let lines = h.brokerLog.split(separator: "\n").dropFirst(skip)
        if let line = lines.first(where: { line in parts.allSatisfy { line.contains($0) } }) { return String(line) }
        if Date() >= deadline { return nil }
        try? await Task.sleep(nanoseconds: 50_000_000)
    }
}

private func brokerLogLineCount(_ h: Harness) -> Int { h.brokerLog.split(separator: "\n").count }

private func queuePath(_ h: Harness) -> String { h.brokerData + "/queue.sqlite" }

/// One number from the broker's queue.sqlite while the broker runs (WAL lets a reader in
/// beside the writer; the query only reads).
private func queueCount(_ h: Harness, _ sql: String) throws -> Int64 {
    let db = try SQLiteConnection(path: queuePath(h))
    return try db.queryOne(sql) { $0.int(0) } ?? -1
}

/// Rows of a node's inbox (delivered to it) with this id.
private func inboxRows(_ h: Harness, _ agency: String, id: String) throws -> Int64 {
    try h.nodeStore(agency).db.queryOne("SELECT COUNT(*) FROM messages WHERE id = ? AND received_at IS NOT NULL", id) { $0.int(0) } ?? -1
}

/// Connects a plain TCP socket to `port`, writes `bytes`, and reads until the peer closes or
/// `timeout` passes. Returns what was read and whether the peer closed the connection.
private func rawTCP(port: Int, send bytes: Data, timeout: Double) throws -> (received: Data, closedByPeer: Bool) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw HarnessError("connect: errno \(errno)") }
    // The peer may close while we still write; MSG_NOSIGNAL keeps SIGPIPE away from the test runner.
    _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var received = Data()
    var buffer = [UInt8](repeating: 0, count: 4096)
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        var item = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&item, 1, 100) > 0 else { continue }
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return (received, true) }  // EOF or reset: the broker hung up
        received.append(contentsOf: buffer[0..<n])
    }
    return (received, false)
}

// MARK: - Tests

@Suite("Security (integration)", .timeLimit(.minutes(3)))
struct SecurityIntegrationTests {
    // MARK: Admission

    @Test func aKeyOutsideTheTopologyCanNeitherSendNorReceive() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }

        // A well-formed CURVE client with a key of its own: it tries what a node does.
        let strangerKey = SecretKey.generate()
        let stranger = try RawNode(h, key: strangerKey)
        let forged = try sealedLetter(key: strangerKey, subject: "Surat dari penyusup")
        try stranger.send(.subscribe)
        try stranger.send(.submit(forged))
        try stranger.send(.ping)
        try stranger.send(.trace(id: forged.id))

        // ZAP refuses it during the handshake (status 400), and nothing ever comes back.
        let refused = try await stranger.events.wait(for: [ZMQ_EVENT_HANDSHAKE_FAILED_AUTH], timeout: 10)
        #expect(refused?.value == 400, "monitor events: \(stranger.events.seen)")
        #expect(try await stranger.next(timeout: 2) == nil, "a key outside the topology got an answer")
        #expect(try !stranger.events.hasSeen(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
        let logged = await brokerLogLine(h, containing: ["connection refused", "peer.address=127.0.0.1", "key not in topology"])
        #expect(logged != nil, "\(h.brokerLog)")

        // After the stranger tried, the broker serves the members: one sends, another receives.
        let id = try await sendAccepted(h, subject: "Surat setelah percobaan penyusup")
        let subscription = try h.subscribe(recipient)
        let lines = try await subscription.waitForLines(1, timeout: 10)
        await subscription.stop()
        #expect(try letterIDs(lines) == [id])

        // The stranger still heard nothing (not even the delivery it subscribed for), and its
        // letter is nowhere: not in the queue, not in the inbox.
        #expect(try await stranger.next(timeout: 0.5) == nil)
        #expect(try inboxRows(h, recipient, id: forged.id) == 0)
        await h.stopBroker()
        let queue = try BrokerStore(path: queuePath(h))
        #expect(try queue.message(id: forged.id) == nil)
        #expect(try queue.message(id: id) != nil)
    }

    @Test func anAgencysPublicKeyWithoutItsSecretKeyGetsNothing() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }
        // A letter waits at the broker for the victim.
        let waiting = try await sendAccepted(h, subject: "Surat untuk Bappenas")

        // The impostor announces Bappenas's CURVE public key (it is in the topology, which is
        // not secret) but holds another secret key: the CURVE handshake's vouch cannot be
        // made without the real secret, so the broker never lets it through.
        let victim = try KeyFile.load(at: NodeConfig.keyPath(in: h.node(recipient))).publicKey
        let impostor = try RawNode(h, key: SecretKey.generate(), claimingCurvePublicKey: victim.curvePublicKey)
        try impostor.send(.subscribe)
        try impostor.send(.ping)
        let failed = try await impostor.events.wait(for: handshakeFailedOrDropped, timeout: 10)
        #expect(failed != nil, "monitor events: \(impostor.events.seen)")
        #expect(try await impostor.next(timeout: 2) == nil, "an impostor got an answer")
        #expect(try !impostor.events.hasSeen(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))

        // The real Bappenas still gets its letter.
        let subscription = try h.subscribe(recipient)
        let lines = try await subscription.waitForLines(1, timeout: 10)
        await subscription.stop()
        #expect(try letterIDs(lines) == [waiting])
    }

    @Test func aPlainClientWithoutCurveIsNeverServed() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }

        // A DEALER with no CURVE options (the NULL mechanism) sending a properly signed letter.
        let plain = try RawNode(h, key: nil)
        let letter = try sealedLetter(key: KeyFile.load(at: NodeConfig.keyPath(in: h.node(sender))), subject: "Surat tanpa CURVE")
        try plain.send(.ping)
        try plain.send(.submit(letter))
        try plain.send(.subscribe)
        let failed = try await plain.events.wait(for: handshakeFailedOrDropped, timeout: 10)
        #expect(failed != nil, "monitor events: \(plain.events.seen)")
        #expect(try await plain.next(timeout: 2) == nil, "a plain-text client got an answer")
        #expect(try !plain.events.hasSeen(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))

        // Not even ZMTP: protocol-looking bytes straight onto the TCP port. The broker answers
        // with its greeting (which names CURVE) and hangs up.
        let port = try #require(WireTap.port(of: h.endpoint))
        let junk = Data("AGB1PING".utf8) + Fixtures.bytes(4096, seed: 3)
        let exchange = try rawTCP(port: port, send: junk, timeout: 10)
        #expect(exchange.closedByPeer, "the broker kept a connection that sent junk open")
        #expect(exchange.received.range(of: Data("AGB1".utf8)) == nil)

        // The broker keeps serving the members; the plain client's letter was never taken.
        #expect(h.broker?.isRunning == true)
        let id = try await sendAccepted(h, subject: "Surat biasa setelah klien polos")
        let subscription = try h.subscribe(recipient)
        let lines = try await subscription.waitForLines(1, timeout: 10)
        await subscription.stop()
        #expect(try letterIDs(lines) == [id])
        #expect(try queueCount(h, "SELECT COUNT(*) FROM messages WHERE kind = 'letter'") == 1)
        #expect(try inboxRows(h, recipient, id: letter.id) == 0)
    }

    // MARK: Identity and integrity

    @Test func aValidKeyCannotSpeakForAnotherAgency() async throws {
        let h = try await Harness(agencies: [sender, recipient, "anri"])
        defer { h.shutdown() }
        // Bappenas is a member with a valid key. It holds bytes genuinely signed by Kementerian
        // PANRB (say, a letter it received) and a key of its own.
        let thief = try RawNode(h, agency: recipient)
        let panrb = try KeyFile.load(at: NodeConfig.keyPath(in: h.node(sender)))
        let genuine = try sealedLetter(key: panrb, to: ["anri"], subject: "Surat asli Kementerian PANRB")
        let d = Disposition(id: MessageID.generate(), from: Address(agency: sender, unit: "setmen"), created: .now(),
                            letter: genuine.id, parent: nil, to: [Address(agency: "anri", unit: "settama")],
                            instructions: [.pelajari], note: "", due: nil, urgency: .biasa)
        let st = StatusUpdate(id: MessageID.generate(), from: Address(agency: sender), created: .now(), item: genuine.id,
                              letter: genuine.id, to: "anri", status: .done, note: nil)
        let receipt = Receipt(id: MessageID.generate(), from: sender, created: .now(), to: "anri",
                              items: [.init(id: genuine.id, sha256: genuine.hash.hexString, status: "stored")])

        let attempts: [(what: String, command: ClientCommand, names: String)] = [
            ("PANRB's genuinely signed letter, relayed", .submit(genuine), sender),
            ("a letter Bappenas signed as PANRB's minister", .submit(try sealedLetter(key: thief.secretKey, from: "\(sender)/menteri",
                                                                                      to: ["anri"], subject: "Palsu")), sender),
            ("PANRB's signed disposition", .submit(try Envelope.seal(d, with: panrb)), sender),
            ("PANRB's signed status update", .submit(try Envelope.seal(st, with: panrb)), sender),
            ("PANRB's signed receipt", .receipt(try Envelope.seal(receipt, with: panrb)), sender),
            ("a letter signed as the broker", .submit(try sealedLetter(key: thief.secretKey, from: h.brokerID, to: ["anri"],
                                                                        subject: "Palsu")), h.brokerID),
        ]
        var refusedIDs: [String] = []
        for attempt in attempts {
            let id: String
            switch attempt.command {
            case .submit(let e), .receipt(let e): id = e.id
            default: continue
            }
            try thief.send(attempt.command)
            let answer = try await thief.next { $0.refusal?.id == id || $0.isAccepted }
            let refusal = answer?.refusal
            #expect(refusal?.code == .forbidden, "\(attempt.what): \(String(describing: answer))")
            #expect(refusal?.reason.contains(attempt.names) == true, "\(attempt.what): \(refusal?.reason ?? "no answer")")
            #expect(refusal?.reason.contains(recipient) == true, "\(attempt.what): the reason names the connection's agency")
            refusedIDs.append(id)
        }
        // Nothing was stored: no message, no delivery, no trace event.
        #expect(try queueCount(h, "SELECT COUNT(*) FROM messages") == 0)
        #expect(try queueCount(h, "SELECT COUNT(*) FROM deliveries") == 0)
        #expect(try queueCount(h, "SELECT COUNT(*) FROM events") == 0)

        // The very bytes refused over Bappenas's connection are accepted over PANRB's: the
        // refusal was about who spoke, not about the content.
        let author = try RawNode(h, agency: sender)
        try author.send(.submit(genuine))
        let accepted = try await author.verdict()
        #expect(accepted?.acceptedItems?.map(\.id) == [genuine.id], "\(String(describing: accepted))")
        await h.stopBroker()
        let queue = try BrokerStore(path: queuePath(h))
        #expect(try queue.message(id: genuine.id)?.sender == sender)
        for id in refusedIDs where id != genuine.id { #expect(try queue.message(id: id) == nil) }
    }

    @Test func aFlippedByteAnywhereIsRefusedAndNeverReachesAnInbox() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }
        // Authenticated as the real sender: only the message itself is tampered with.
        let raw = try RawNode(h, agency: sender)
        let attachment = Data("Notulen rapat koordinasi SPBE: 12 halaman, ditandatangani Sekretaris Kementerian.\n".utf8)
        let genuine = try sealedLetter(key: raw.secretKey, subject: "Surat yang diubah di tengah jalan", attachments: [attachment])
        let (header, signature) = (genuine.header, genuine.signature)

        // Every byte of the header, the signature and the attachment, with masks that keep
        // ASCII (0x01, 0x04, 0x20) or break UTF-8 (0x80).
        let masks: [UInt8] = [0x01, 0x80, 0x20, 0x04]
        var tampered: [(part: String, index: Int, frames: [Data])] = []
        for i in 0..<header.count {
            tampered.append(("header", i, [header.flipping(i, mask: masks[i % masks.count]), signature, attachment]))
        }
        for i in 0..<signature.count {
            tampered.append(("signature", i, [header, signature.flipping(i, mask: masks[i % masks.count]), attachment]))
        }
        for i in 0..<attachment.count {
            tampered.append(("attachment", i, [header, signature, attachment.flipping(i, mask: masks[i % masks.count])]))
        }
        // A flip in the header may break a rule checked before the signature (the `from`
        // agency, a recipient, the version, the clock); all of those are refusals too.
        let headerCodes: Set<RefusalCode> = [.badSignature, .malformed, .invalid, .forbidden, .unknownRecipient,
                                             .unsupportedVersion, .futureTimestamp]
        var codes: [RefusalCode: Int] = [:]
        for t in tampered {
            try raw.send([AGB1, SUBMIT] + t.frames)
            let answer = try await raw.verdict()
            guard let refusal = answer?.refusal else {
                Issue.record("\(t.part)[\(t.index)] flipped: \(answer == nil ? "no answer" : "ACCEPTED")\n\(h.brokerLog.suffix(2000))")
                continue
            }
            codes[refusal.code, default: 0] += 1
            #expect(!refusal.reason.isEmpty)
            if t.part == "header" {
                #expect(headerCodes.contains(refusal.code), "header[\(t.index)]: \(refusal)")
            } else {
                #expect(refusal.code == .badSignature, "\(t.part)[\(t.index)]: \(refusal)")
            }
        }
        #expect(codes.values.reduce(0, +) == tampered.count, "refusals by code: \(codes)")

        // A barrier: one more (genuine) letter. Deliveries go out in acceptance order, so
        // once it is in the inbox, anything accepted before it would be there too.
        let barrier = try sealedLetter(key: raw.secretKey, subject: "Surat pembatas")
        try raw.send(.submit(barrier))
        #expect(try await raw.verdict()?.acceptedItems?.map(\.id) == [barrier.id])
        let first = try h.subscribe(recipient)
        let lines = try await first.waitForLines(1, timeout: 10)
        await first.stop()
        #expect(try letterIDs(lines) == [barrier.id])
        let inbox = try h.nodeStore(recipient)
        #expect(try inbox.message(id: genuine.id) == nil, "a tampered copy reached the inbox")
        #expect(try inbox.count(direction: "in") == 1)
        #expect(try inbox.db.queryOne("SELECT COUNT(*) FROM rejected") { $0.int(0) } == 0, "the broker passed a bad copy on")

        // The genuine bytes under the same id are still accepted and arrive intact: the
        // tampered attempts did not take the id.
        try raw.send(.submit(genuine))
        #expect(try await raw.verdict()?.acceptedItems?.map(\.id) == [genuine.id])
        let second = try h.subscribe(recipient)
        _ = try await second.waitForLines(1, timeout: 10)
        await second.stop()
        #expect(try letterIDs(second.lines) == [genuine.id])
        let stored = try #require(try h.nodeStore(recipient).envelope(id: genuine.id))
        #expect(stored.header == genuine.header)
        #expect(stored.attachments == [attachment])
    }

    // MARK: Revocation

    @Test func aRevokedAgencyIsCutOffAfterReloadAndItsEarlierMailStillVerifies() async throws {
        let revoked = recipient, other = "anri"
        let h = try await Harness(agencies: [sender, revoked, other])
        defer { h.shutdown() }

        // The agency is live: its subscriber runs and has received a letter.
        let live = try h.subscribe(revoked)
        let before = try await sendAccepted(h, to: revoked, subject: "Sebelum pencabutan")
        #expect(try letterIDs(try await live.waitForLines(1, timeout: 10)) == [before])
        // Before revocation it sends a letter to an agency that is offline: accepted, queued.
        let early = try await sendAccepted(h, from: revoked, to: other, subject: "Surat sebelum kunci dicabut")

        // Ops revoke it in the topology (the key stays, marked revoked) and SIGHUP the broker.
        let skip = brokerLogLineCount(h)
        try await h.setTopology(["--agency", revoked, "--revoke"])
        #expect(try Topology.load(path: h.topologyPath).agency(revoked)?.revoked == true)
        let broker = try #require(h.broker)
        kill(broker.pid, SIGHUP)
        let reloaded = await brokerLogLine(h, containing: ["topology reloaded", "removed=agency:\(revoked)"], skip: skip)
        #expect(reloaded != nil, "\(h.brokerLog)")
        // Its live subscriber was disconnected; reconnecting on its own, it is refused by ZAP.
        let shutOut = await brokerLogLine(h, containing: ["connection refused", "key not in topology"], skip: skip)
        #expect(shutOut != nil, "\(h.brokerLog)")

        // Its next send is refused at once (77, saying it is revoked); nothing is queued.
        let attempt = try await h.send(from: revoked, to: other, subject: "Setelah kunci dicabut", timeout: 3)
        #expect(attempt.exitCode == 77 && attempt.stderr.contains("revoked"), "\(attempt)")
        #expect(try h.nodeStore(revoked).outbox().isEmpty)

        // The others keep working, with each other and with what it sent before revocation.
        // Mail for it is refused up front (it could never be delivered), naming why.
        let after = try await h.send(from: sender, to: revoked, subject: "Setelah pencabutan")
        #expect(after.exitCode == 65 && after.stderr.contains("revoked"), "\(after)")
        let toOther = try await sendAccepted(h, to: other, subject: "Untuk ANRI setelah pencabutan")
        let otherSubscription = try h.subscribe(other)
        let otherLines = try await otherSubscription.waitForLines(2, timeout: 10)
        await otherSubscription.stop()
        #expect(try letterIDs(otherLines) == [early, toOther])
        let shown = try await h.cli(["show", "--node", h.node(other), early])
        #expect(shown.exitCode == 0, "\(shown)")
        #expect(shown.lines.contains { $0.hasPrefix("Signature") && $0.hasSuffix(" valid") }, "\(shown)")

        // Nothing more reached the revoked agency: not the letter sent to it after the reload,
        // not ANRI's receipt for its earlier letter.
        await live.stop()
        #expect(try letterIDs(live.lines) == [before], "\(live.stdout)")
        #expect(live.lines.count == 1, "\(live.stdout)")
        await h.stopBroker()
        let queue = try BrokerStore(path: queuePath(h))
        // What waits for it is ANRI's receipt and read status for its earlier letter; nothing
        // addressed to it after the reload.
        let pending = try queue.pendingCounts()
        #expect(pending[revoked] ?? 0 == 2, "\(pending)")
        #expect(try queue.delivery(messageID: early, recipient: other)?.state == .stored)
    }

    /// A key rotation: `bus-cli rekey` makes a new key, `set-topology` keeps the old one under
    /// formerKeys, and after the broker reloads: the agency connects with the new key only,
    /// a letter signed with the old key that waited in its outbox is accepted, and letters it
    /// signed before still verify at the recipient. Dropping the old key (`--compromised`)
    /// makes those old signatures unverifiable.
    @Test func aRotatedKeyKeepsOldLettersVerifiable() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }
        let before = try await sendAccepted(h, to: recipient, subject: "Ditandatangani dengan kunci lama")
        await h.stopBroker()
        let waiting = try await h.send(from: sender, to: recipient, subject: "Menunggu di outbox", timeout: 2)
        #expect(waiting.exitCode == 69, "\(waiting)")
        let waitingID = try #require(try waiting.json().first?["id"] as? String)

        let oldKey = try KeyFile.load(at: NodeConfig.keyPath(in: h.node(sender))).publicKey.text
        let rekey = try await h.cli(["rekey", "--node", h.node(sender)])
        #expect(rekey.exitCode == 0 && rekey.lines.count == 1, "\(rekey)")
        let newKey = try #require(rekey.lines.first)
        #expect(newKey.hasPrefix("ed25519:") && newKey != oldKey)
        #expect(try KeyFile.load(at: NodeConfig.keyPath(in: h.node(sender))).publicKey.text == newKey)
        let kept = try FileManager.default.contentsOfDirectory(atPath: h.node(sender)).filter { $0.hasPrefix("node.key.retired-") }
        #expect(kept.count == 1)
        if let file = kept.first {
            #expect(try KeyFile.load(at: h.node(sender) + "/" + file).publicKey.text == oldKey)
        }
        try await h.setTopology(["--agency", sender, "--public-key", newKey])
        let entry = try #require(try Topology.load(path: h.topologyPath).agency(sender))
        #expect(entry.publicKey == newKey && entry.formerKeys?.map(\.publicKey) == [oldKey])

        try await h.startBroker()
        let after = try await sendAccepted(h, to: recipient, subject: "Ditandatangani dengan kunci baru")
        #expect(try h.nodeStore(sender).outbox().isEmpty, "the old-key letter was not accepted from the outbox")
        let subscription = try h.subscribe(recipient)
        let lines = try await subscription.waitForLines(3, timeout: 15)
        await subscription.stop()
        #expect(Set(try letterIDs(lines)) == [before, waitingID, after], "\(lines)")
        for id in [before, waitingID, after] {
            let shown = try await h.cli(["show", "--node", h.node(recipient), id])
            #expect(shown.lines.contains { $0.hasPrefix("Signature") && $0.hasSuffix(" valid") }, "\(id): \(shown)")
        }

        // The recipient's archive of the year carries both keys and verifies offline, also
        // against the topology (whose formerKeys hold the old key).
        let shownJSON = try await h.cli(["show", "--node", h.node(recipient), before, "--json"])
        let agendaNumber = try #require(try shownJSON.json().first?["agendaNumber"] as? String, "\(shownJSON)")
        let year = String(agendaNumber.split(separator: "/").last ?? "")
        let archive = h.directory.file("arsip-\(year).jsonl")
        let exported = try await h.cli(["archive", "export", "--node", h.node(recipient), "--year", year, "--out", archive])
        #expect(exported.exitCode == 0, "\(exported)")
        let verified = try await h.cli(["archive", "verify", archive, "--topology", h.topologyPath])
        #expect(verified.exitCode == 0, "\(verified)")
        #expect(verified.stdout.contains(oldKey) && verified.stdout.contains(newKey), "\(verified)")

        // A stolen key is dropped, not kept: what it signed no longer verifies.
        let third = try await h.cli(["rekey", "--node", h.node(sender)])
        let thirdKey = try #require(third.lines.first)
        try await h.setTopology(["--agency", sender, "--public-key", thirdKey, "--compromised"])
        #expect(try Topology.load(path: h.topologyPath).agency(sender)?.formerKeys?.map(\.publicKey) == [oldKey])
        let shown = try await h.cli(["show", "--node", h.node(recipient), after])
        #expect(shown.lines.contains { $0.hasPrefix("Signature") && $0.contains("INVALID") }, "\(shown)")
        let misuse = try await h.brokerTool(["set-topology", "--topology", h.topologyPath, "--broker", h.brokerID, "--compromised"])
        #expect(misuse.exitCode == 64, "\(misuse)")
    }

    // MARK: Confidentiality on the wire

    @Test func theWireCarriesNoSubjectBodyOrAttachmentInClear() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }
        // The nodes reach the broker only through the tap.
        let tap = try WireTap(upstreamPort: try #require(WireTap.port(of: h.endpoint)))
        defer { tap.stop() }
        try await h.setEndpoint(tap.endpoint)

        let subject = "Operasi Sandi Garuda Biru 4471"
        let body = "Titik temu: Gedung Merdeka lantai 7; kode akses KUNCI-ZAMRUD-8812. Mohon tidak disebarluaskan."
        let attachmentText = "Daftar tim verifikasi lapangan: TANGKAS-5530, TANGKAS-5531, TANGKAS-5532.\n"
        let number = "R/77/SANDI/2026"
        let file = h.directory.file("daftar-tim-verifikasi.txt")
        try Data(attachmentText.utf8).write(to: URL(fileURLWithPath: file))
        let id = try await sendAccepted(h, subject: subject, body: body, extra: ["--attach", file, "--number", number])
        let subscription = try h.subscribe(recipient)
        #expect(try letterIDs(try await subscription.waitForLines(1, timeout: 10)) == [id])
        await subscription.stop()

        // It crossed the tap intact.
        let shown = try await h.cli(["show", "--node", h.node(recipient), "--json", id])
        let detail = try #require(try shown.json().first, "\(shown)")
        #expect(detail["body"] as? String == body)
        #expect(detail["signature"] as? String == "valid")

        tap.stop()
        let toBroker = tap.nodeToBroker, fromBroker = tap.brokerToNode
        #expect(tap.connections >= 2, "the sender and the subscriber both went through the tap")
        let envelope = try #require(try h.nodeStore(sender).envelope(id: id))
        let letterBytes = envelope.header.count + envelope.signature.count + envelope.attachments.reduce(0) { $0 + $1.count }
        #expect(toBroker.count >= letterBytes, "the capture holds \(toBroker.count) bytes toward the broker")
        #expect(fromBroker.count >= letterBytes, "the capture holds \(fromBroker.count) bytes from the broker")
        let secrets = [subject, body, attachmentText, number, "Garuda Biru", "KUNCI-ZAMRUD", "TANGKAS-553",
                       "daftar-tim-verifikasi", id, sender, recipient]
        for (direction, capture) in [("node→broker", toBroker), ("broker→node", fromBroker)] {
            // The search does find clear text where there is some: the ZMTP greeting names its mechanism.
            #expect(capture.range(of: Data("CURVE".utf8)) != nil, "\(direction): no ZMTP greeting in the capture")
            for secret in secrets {
                #expect(capture.range(of: Data(secret.utf8)) == nil, "\(direction): '\(secret)' travels in clear")
            }
            // Nor the signed header or any long piece of it (e.g. a JSON key sequence).
            #expect(capture.range(of: envelope.header.prefix(24)) == nil, "\(direction): the header travels in clear")
        }
    }

    // MARK: Hostile frames

    @Test func oversizeTruncatedGarbageAndEmptyFramesLeaveTheBrokerAndItsStoreIntact() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }
        let raw = try RawNode(h, agency: sender)
        let key = raw.secretKey
        let attachment = Data("lampiran".utf8)
        let letter = try sealedLetter(key: key, subject: "Surat yang dipotong", attachments: [attachment])
        let plain = try sealedLetter(key: key, subject: "Surat tanpa lampiran")
        let (header, signature) = (letter.header, letter.signature)
        let id = letter.id
        func text(_ s: String) -> Data { Data(s.utf8) }
        // Signed attachment sizes whose sum overflows an Int (this once stopped the broker).
        var huge = Fixtures.letter(from: sender, to: [recipient], subject: "Ukuran raksasa", attachments: [attachment, attachment])
        for i in huge.attachments.indices { huge.attachments[i].size = 1 << 62 }
        let overflow = try Envelope.seal(huge, attachments: [attachment, attachment], with: key)

        // One signed header, two meanings: "to" twice (first wins here, last in Python or jq).
        let twoTo = text(#"{"to":["pemprov-jateng"],"#) + plain.header.dropFirst()
        let twoToSignature = key.sign(twoTo)
        // The same in UTF-16 with the second key escaped: no byte scan sees "\u0074o" as "to".
        let utf16TwoTo = try #require((String(decoding: plain.header.dropLast(), as: UTF8.self) + #","\u0074o":["pemprov-jateng"]}"#)
            .data(using: .utf16LittleEndian))

        let cases: [(what: String, frames: [Data], code: RefusalCode, id: String)] = [
            ("a key twice in the signed header", [AGB1, SUBMIT, twoTo, twoToSignature], .malformed, plain.id),
            ("the header in UTF-16, a key twice (one escaped)",
             [AGB1, SUBMIT, utf16TwoTo, key.sign(utf16TwoTo)], .malformed, plain.id),
            ("attachment sizes that overflow a sum", [AGB1, SUBMIT, overflow.header, overflow.signature, attachment, attachment],
             .invalid, overflow.id),
            // Truncated.
            ("SUBMIT with only a header frame", [AGB1, SUBMIT, header], .malformed, id),
            ("SUBMIT with no argument frames", [AGB1, SUBMIT], .malformed, "-"),
            ("signature cut to 63 bytes", [AGB1, SUBMIT, header, signature.prefix(63), attachment], .malformed, id),
            ("header cut in half", [AGB1, SUBMIT, header.prefix(header.count / 2), signature, attachment], .malformed, "-"),
            ("letter without its attachment frame", [AGB1, SUBMIT, header, signature], .malformed, id),
            ("RECEIPT with only a header", [AGB1, text("RECEIPT"), header], .malformed, "-"),
            ("TRACE without its id", [AGB1, text("TRACE")], .malformed, "-"),
            // Empty frames.
            ("one empty frame", [Data()], .unsupportedVersion, "-"),
            ("three empty frames", [Data(), Data(), Data()], .unsupportedVersion, "-"),
            ("empty command frame", [AGB1, Data()], .malformed, "-"),
            ("empty header and signature", [AGB1, SUBMIT, Data(), Data()], .malformed, "-"),
            ("empty signature", [AGB1, SUBMIT, header, Data(), attachment], .malformed, id),
            ("empty attachment frame", [AGB1, SUBMIT, header, signature, Data()], .badSignature, id),
            ("empty TRACE id", [AGB1, text("TRACE"), Data()], .malformed, "-"),
            ("empty frame after PING", [AGB1, text("PING"), Data()], .malformed, "-"),
            // Garbage.
            ("1 KiB of random bytes", [Fixtures.bytes(1024, seed: 11)], .unsupportedVersion, "-"),
            ("a random command", [AGB1, Fixtures.bytes(64, seed: 12)], .malformed, "-"),
            ("random header and signature", [AGB1, SUBMIT, Fixtures.bytes(4096, seed: 13), Fixtures.bytes(64, seed: 14)], .malformed, "-"),
            ("JSON nested 100 000 deep", [AGB1, SUBMIT, Data(repeating: UInt8(ascii: "["), count: 100_000), signature], .malformed, "-"),
            ("JSON null", [AGB1, SUBMIT, text("null"), signature], .malformed, "-"),
            ("a version number too big for any integer",
             [AGB1, SUBMIT, text(#"{"created":"2026-03-02T02:15:07.412Z","from":"kemenpanrb","id":"\#(id)","kind":"letter","v":1e999}"#), signature],
             .malformed, id),
            ("NUL bytes in the header", [AGB1, SUBMIT, header + Data([0, 0, 0]), signature, attachment], .malformed, id),
            ("a header one byte over 1 MiB", [AGB1, SUBMIT, Data(repeating: 0x20, count: Limits.maxHeaderBytes + 1), signature], .tooLarge, "-"),
            ("10 000 stray frames after a letter", [AGB1, SUBMIT, plain.header, plain.signature] + Array(repeating: Data(), count: 10_000),
             .malformed, plain.id),
        ]
        for c in cases {
            try raw.send(c.frames)
            let answer = try await raw.next { $0.refusal != nil || $0.isAccepted }
            guard let refusal = answer?.refusal else {
                Issue.record("\(c.what): \(answer == nil ? "no answer" : "ACCEPTED")\n\(h.brokerLog.suffix(3000))")
                continue
            }
            #expect(refusal.code == c.code, "\(c.what): \(refusal)")
            #expect(refusal.id == c.id, "\(c.what): \(refusal)")
            #expect(refusal.reason.count > 10, "\(c.what): the reason says what is wrong: \(refusal)")
        }
        #expect(try await raw.isAlive(), "the broker stopped answering after the bad frames")

        // Oversize: one frame over ZMQ_MAXMSGSIZE (40 MiB). libzmq drops the connection while
        // reading it; no REFUSED is sent. The client's libzmq reconnects by itself.
        let big = try RawNode(h, agency: sender)
        #expect(try await big.isAlive())
        let oversize = Data(count: Int(Limits.maxWireMessageBytes) + 1)
        try big.send([AGB1, SUBMIT, header, signature, oversize])
        let dropped = try await big.events.wait(for: [ZMQ_EVENT_DISCONNECTED], timeout: 30)
        #expect(dropped != nil, "the broker kept a connection that sent \(oversize.count) bytes; events \(big.events.seen)")
        #expect(try await big.next(timeout: 1) { $0.refusal != nil || $0.isAccepted } == nil, "an oversize message was answered")
        #expect(try await big.isAlive(), "the dropped client could not come back")

        // Oversize in total but not per frame: ZMQ_MAXMSGSIZE bounds each frame, so two
        // 21 MiB attachment frames get through libzmq; the broker then refuses the letter on
        // its signed attachment sizes (32 MiB per letter). Either way: no crash, a clear answer
        // or a clean drop.
        let half = Fixtures.bytes(21 << 20, seed: 5)
        let bulky = try sealedLetter(key: key, subject: "Lampiran terlalu besar", attachments: [half, half])
        let split = try RawNode(h, agency: sender)
        try split.send(.submit(bulky))
        let answer = try await split.next(timeout: 30) { $0.refusal != nil || $0.isAccepted }
        if let refusal = answer?.refusal {
            #expect(refusal.code == .invalid && refusal.reason.contains("attachments"), "\(refusal)")
        } else {
            #expect(answer == nil, "a letter with 42 MiB of attachments was accepted")
            #expect(try split.events.hasSeen(ZMQ_EVENT_DISCONNECTED), "neither refused nor dropped")
        }

        // The broker still serves a normal send and receive.
        #expect(h.broker?.isRunning == true)
        let normal = try await sendAccepted(h, subject: "Surat normal setelah serangan")
        let subscription = try h.subscribe(recipient)
        #expect(try letterIDs(try await subscription.waitForLines(1, timeout: 10)) == [normal])
        await subscription.stop()

        // Its store is intact and holds nothing of the hostile traffic: checked while it runs
        // (a WAL reader) and again after an orderly stop.
        #expect(try SQLiteConnection(path: queuePath(h)).integrityCheck() == "ok")
        #expect(try queueCount(h, "SELECT COUNT(*) FROM messages WHERE kind = 'letter'") == 1)
        let broker = try #require(h.broker)
        await h.stopBroker()
        #expect(!broker.isRunning)
        #expect(broker.process.terminationStatus == 0, "bus-broker exit after SIGTERM\n\(broker.stderr.suffix(2000))")
        #expect(try SQLiteConnection(path: queuePath(h)).integrityCheck() == "ok")
        #expect(try h.nodeStore(recipient).db.integrityCheck() == "ok")
    }

    // MARK: Key files

    @Test func looseKeyFilePermissionsStopEveryVerbAndTheBroker() async throws {
        let h = try await Harness(agencies: [sender, recipient], startBroker: false)
        defer { h.shutdown() }
        let node = h.node(sender)
        let keyPath = NodeConfig.keyPath(in: node)
        let someID = MessageID.generate()
        let verbs: [[String]] = [
            ["send", "--node", node, "--to", recipient, "--subject", "Uji izin kunci", "--body", "-", "--timeout", "2"],
            ["subscribe", "--node", node],
            ["inbox", "--node", node],
            ["outbox", "--node", node],
            ["show", "--node", node, someID],
            ["trace", "--node", node, someID],
            ["dispose", "--node", node, someID, "--to", "\(recipient)/settama", "--instruction", "pelajari"],
            ["status", "--node", node, someID, "done"],
        ]
        for mode: mode_t in [0o644, 0o640] {
            #expect(chmod(keyPath, mode) == 0)
            for arguments in verbs {
                let r = try await h.cli(arguments, timeout: 15)
                #expect(r.exitCode == 77, "mode \(String(mode, radix: 8)): \(r)")
                #expect(r.stderr.contains("too open") && r.stderr.contains(keyPath), "\(r)")
                #expect(r.stdout.isEmpty, "\(r)")
            }
        }
        // Nothing was queued by the refused send; with 0600 the node works again.
        #expect(chmod(keyPath, 0o600) == 0)
        let outbox = try await h.cli(["outbox", "--node", node, "--json"])
        #expect(outbox.exitCode == 0 && outbox.stdout.isEmpty, "\(outbox)")

        // The broker's key: bus-broker refuses to start, creates no store, and exits 77.
        let brokerKey = BrokerConfig.keyPath(dataDirectory: h.brokerData)
        #expect(chmod(brokerKey, 0o644) == 0)
        let refused = try await h.brokerTool(["--topology", h.topologyPath, "--broker", h.brokerID, "--data", h.brokerData,
                                              "--bind", "tcp://127.0.0.1:*"], timeout: 15)
        #expect(refused.exitCode == 77, "\(refused)")
        #expect(refused.stderr.contains("too open") && refused.stderr.contains(brokerKey), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: queuePath(h)))
        #expect(chmod(brokerKey, 0o600) == 0)
        try await h.startBroker()
        _ = try await sendAccepted(h, subject: "Kunci sudah 0600")
    }

    // MARK: Replay

    @Test func replaysAreIdempotentAndASignedHeaderCannotTakeANewID() async throws {
        let h = try await Harness(agencies: [sender, recipient])
        defer { h.shutdown() }
        let raw = try RawNode(h, agency: sender)
        let original = try sealedLetter(key: raw.secretKey, subject: "Surat yang diputar ulang", attachments: [Data("lampiran asli".utf8)])
        let item = Acceptance.Item(id: original.id, sha256: original.hash.hexString)

        try raw.send(.submit(original))
        #expect(try await raw.verdict()?.acceptedItems == [item])
        // Resubmitted as is (a lost acceptance, a node's outbox after a restart): the same answer.
        try raw.send(.submit(original))
        #expect(try await raw.verdict()?.acceptedItems == [item])

        let subscription = try h.subscribe(recipient)
        #expect(try letterIDs(try await subscription.waitForLines(1, timeout: 10)) == [original.id])
        // Replayed once more after it was delivered: accepted again, not delivered again.
        try raw.send(.submit(original))
        #expect(try await raw.verdict()?.acceptedItems == [item])

        // The accepted header resubmitted with any other byte changed is refused, not accepted
        // again: a flipped signature bit, a zero signature, other attachment bytes, none at all.
        var flipped = original.signature
        flipped[5] ^= 0x01
        let altered: [(String, [Data], RefusalCode)] = [
            ("flipped signature", [AGB1, SUBMIT, original.header, flipped] + original.attachments, .badSignature),
            ("zero signature", [AGB1, SUBMIT, original.header, Data(count: 64)] + original.attachments, .badSignature),
            ("other attachment", [AGB1, SUBMIT, original.header, original.signature, Data("lampiran palsu".utf8)], .badSignature),
            ("no attachment", [AGB1, SUBMIT, original.header, original.signature], .malformed),
        ]
        for (what, frames, code) in altered {
            try raw.send(frames)
            let answer = try await raw.verdict()
            #expect(answer?.refusal?.code == code, "\(what): \(String(describing: answer))")
        }

        // The same signed header under a new id: the id is inside the signed bytes.
        let newID = MessageID.generate()
        var renamed = original.header
        let range = try #require(renamed.range(of: Data(original.id.utf8)))
        renamed.replaceSubrange(range, with: Data(newID.utf8))
        try raw.send([AGB1, SUBMIT, renamed, original.signature] + original.attachments)
        let renamedAnswer = try await raw.verdict()?.refusal
        #expect(renamedAnswer?.code == .badSignature, "\(String(describing: renamedAnswer))")
        #expect(renamedAnswer?.id == newID)

        // The clock: 10 minutes ahead is refused (the allowance is 5), 4 minutes ahead is not.
        let now = Timestamp.now().milliseconds
        let tooEarly = try sealedLetter(key: raw.secretKey, subject: "Dari masa depan",
                                        created: Timestamp(milliseconds: now + 10 * 60_000))
        try raw.send(.submit(tooEarly))
        let early = try await raw.verdict()?.refusal
        #expect(early?.code == .futureTimestamp, "\(String(describing: early))")
        #expect(early?.id == tooEarly.id)
        #expect(early?.reason.contains("created") == true)
        let skewed = try sealedLetter(key: raw.secretKey, subject: "Jam pengirim sedikit cepat",
                                      created: Timestamp(milliseconds: now + 4 * 60_000))
        try raw.send(.submit(skewed))
        #expect(try await raw.verdict()?.acceptedItems?.map(\.id) == [skewed.id])

        // A barrier: deliveries go out in acceptance order, so when the last letter is in, a
        // second copy of the original would have come before it.
        let last = try sealedLetter(key: raw.secretKey, subject: "Surat terakhir")
        try raw.send(.submit(last))
        #expect(try await raw.verdict()?.acceptedItems?.map(\.id) == [last.id])
        _ = try await subscription.waitForLines(3, timeout: 10)
        await subscription.stop()
        #expect(try letterIDs(subscription.lines) == [original.id, skewed.id, last.id])
        #expect(try inboxRows(h, recipient, id: original.id) == 1)
        #expect(try inboxRows(h, recipient, id: newID) == 0)
        #expect(try inboxRows(h, recipient, id: tooEarly.id) == 0)

        await h.stopBroker()
        let queue = try BrokerStore(path: queuePath(h))
        #expect(try queue.message(id: newID) == nil)
        #expect(try queue.message(id: tooEarly.id) == nil)
        let deliveries = try queue.db.queryOne("SELECT COUNT(*) FROM deliveries d JOIN messages m ON m.seq = d.message_seq WHERE m.id = ?",
                                               original.id) { $0.int(0) }
        #expect(deliveries == 1, "one delivery row for the original, however often it was submitted")
    }
}
