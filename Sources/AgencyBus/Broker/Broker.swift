import CZMQ
import Foundation

/// Settings for one broker process.
public struct BrokerConfig {
    public var topologyPath: String
    public var brokerID: String
    public var dataDirectory: String
    /// Overrides the topology's endpoint (e.g. `tcp://127.0.0.1:*` in tests).
    public var bindEndpoint: String?
    /// Written with the bound endpoint once the broker is ready (tests and scripts wait on it).
    public var readyFile: String?
    /// Unreceipted deliveries allowed in flight per node.
    /// Deliveries in flight per node (sent, not yet receipted): at most `window` messages and,
    /// beyond the first, `windowBytes` bytes. 512 keeps a fast node busy across the fsyncs of
    /// a round trip (`make bench` S1, S4); the byte bound keeps large letters from piling up.
    public var window: Int = 512
    public var windowBytes: Int = 16 << 20
    /// A session not heard from for this long is dropped (nodes PING every 5 s).
    public var sessionTimeoutMilliseconds: Int64 = 30_000

    public init(topologyPath: String, brokerID: String, dataDirectory: String) {
        self.topologyPath = topologyPath
        self.brokerID = brokerID
        self.dataDirectory = dataDirectory
    }

    public static func keyPath(dataDirectory: String) -> String { dataDirectory + "/broker.key" }
}

public struct BrokerStartError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// The broker: one owner thread runs the poll loop over the client ROUTER socket and the
/// ZAP handler, and owns the SQLite store. Each round reads every waiting message, commits
/// all accepted submissions and receipts in one durable transaction (group commit), and only
/// then answers ACCEPTED and forwards deliveries.
public final class Broker {
    let config: BrokerConfig
    let log: Logger
    var topology: Topology
    let key: SecretKey
    let store: BrokerStore
    let context = ZMQContext()
    var router: ZMQSocket
    let zap: ZMQSocket
    var zapHandler: ZAPHandler
    public private(set) var endpoint: String = ""
    var sessions: [String: DeliverySession] = [:]
    /// Connections whose session another SUBSCRIBE of the same agency took over (bounded).
    var replacedSessions: [[UInt8]: String] = [:]
    /// Counters, operator streams and metrics (Broker+Monitoring.swift).
    let monitor = BrokerMonitor(startedAt: .now())
    /// The lock on the data directory (see `lockDataDirectory`); never closed while running.
    let dataLock: Int32
    /// Agencies whose receipts could not be recorded (store full or failing), with when: their
    /// window was freed so delivery goes on, and their session is rewound after
    /// `unrecordedReceiptRetryMilliseconds` so the deliveries are sent (and receipted) again.
    var unrecordedReceipts: [String: Timestamp] = [:]
    static let unrecordedReceiptRetryMilliseconds: Int64 = 5_000

    public init(config: BrokerConfig, logger: Logger) throws {
        self.config = config
        self.log = logger
        topology = try Topology.load(path: config.topologyPath)
        guard let me = topology.broker(config.brokerID) else {
            throw BrokerStartError("broker '\(config.brokerID)' is not in the topology \(config.topologyPath) (known: \(topology.brokers.map(\.id).joined(separator: ", ")))")
        }
        let keyPath = BrokerConfig.keyPath(dataDirectory: config.dataDirectory)
        guard FileManager.default.fileExists(atPath: keyPath) else {
            throw BrokerStartError("no broker key at \(keyPath); create one with: bus-broker keygen --data \(config.dataDirectory)")
        }
        key = try KeyFile.load(at: keyPath)
        guard me.publicKey == key.publicKey.text else {
            throw BrokerStartError("the topology lists publicKey '\(me.publicKey)' for broker '\(me.id)', but \(keyPath) holds \(key.publicKey.text); put that key in the topology")
        }
        dataLock = try Self.lockDataDirectory(config.dataDirectory)
        store = try BrokerStore(path: config.dataDirectory + "/queue.sqlite")
        zapHandler = ZAPHandler(topology: topology)

        // The ZAP handler must be bound before the CURVE socket accepts its first peer.
        zap = try ZMQSocket(context: context, kind: .rep, linger: 0)
        try zap.bind(ZAPHandler.endpoint)
        let bindTo = config.bindEndpoint ?? me.endpoint
        router = try Self.makeRouter(context: context, key: key, endpoint: bindTo)
        endpoint = router.lastEndpoint
    }

    /// One broker per data directory: two serving the same queue.sqlite would each deliver
    /// and receipt on their own. An exclusive lock on DIR/broker.lock (held until the process
    /// ends, also by SIGKILL) says who has it; the file holds that broker's pid.
    static func lockDataDirectory(_ directory: String) throws -> Int32 {
        let path = directory + "/broker.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BrokerStartError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(fd)
            throw BrokerStartError("another bus-broker is using \(directory) (pid \(holder.isEmpty ? "?" : holder)); stop it first, or give this one its own --data directory")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }

    /// The client socket: ROUTER, CURVE server with ZAP admission, mandatory routing (a send to
    /// a vanished peer is an error, never a silent drop), bounded message size.
    static func makeRouter(context: ZMQContext, key: SecretKey, endpoint: String) throws -> ZMQSocket {
        let router = try ZMQSocket(context: context, kind: .router)
        try router.setOption(ZMQ_ROUTER_MANDATORY, Int32(1))
        try router.setOption(ZMQ_MAXMSGSIZE, Limits.maxWireMessageBytes)
        try router.setOption(ZMQ_SNDHWM, Int32(10_000))
        try router.setOption(ZMQ_RCVHWM, Int32(10_000))
        // ZMTP heartbeats: a peer silent for 15 s (dead host, cut link) is disconnected by
        // libzmq, so sends to it fail with EHOSTUNREACH instead of queueing forever.
        try router.setOption(ZMQ_HEARTBEAT_IVL, Int32(5_000))
        try router.setOption(ZMQ_HEARTBEAT_TIMEOUT, Int32(15_000))
        try router.makeCurveServer(secretKey: key.curveSecretKey, zapDomain: ZAPHandler.domain)
        do { try router.bind(endpoint) } catch let e as ZMQError {
            throw BrokerStartError("cannot listen on \(endpoint): \(String(cString: zmq_strerror(e.code)))")
        }
        return router
    }

    /// Reads the topology again (SIGHUP). New keys are admitted at once (ZAP asks on every new
    /// connection). When a key was removed, changed or revoked, every connection is dropped by
    /// re-binding the listener: nodes reconnect by themselves and ZAP refuses the revoked ones.
    /// Messages already accepted stay stored and deliverable. An invalid file changes nothing.
    public func reloadTopology() {
        let fresh: Topology
        do { fresh = try Topology.load(path: config.topologyPath) } catch {
            log.error("topology reload refused; keeping the current topology", ["error": "\(error)"])
            return
        }
        guard fresh.broker(config.brokerID)?.publicKey == key.publicKey.text else {
            log.error("topology reload refused: it does not list this broker's key", ["broker": config.brokerID])
            return
        }
        let before = zapHandler.admittedKeys
        let handler = ZAPHandler(topology: fresh)
        let after = handler.admittedKeys
        let lost = before.filter { after[$0.key] != $0.value }.map(\.value)
        let added = after.filter { before[$0.key] != $0.value }.map(\.value)
        topology = fresh
        zapHandler = handler
        log.info("topology reloaded", ["admitted": after.count, "added": added.map(\.userID).joined(separator: ","),
                                       "removed": lost.map(\.userID).joined(separator: ",")])
        guard !lost.isEmpty else { return }
        for case .agency(let agency) in lost { sessions[agency] = nil }
        do {
            router.close()
            sessions.removeAll()
            var attempt = 0
            while true {
                do { router = try Self.makeRouter(context: context, key: key, endpoint: endpoint); break } catch {
                    attempt += 1
                    if attempt >= 50 { throw error }
                    usleep(20_000)  // the old listener closes asynchronously in libzmq's I/O thread
                }
            }
            log.warning("all connections dropped to shut out removed keys; nodes reconnect by themselves",
                        ["removed": lost.map(\.userID).joined(separator: ",")])
        } catch {
            log.error("cannot listen again after reload", ["endpoint": endpoint, "error": "\(error)"])
        }
    }

    /// Runs until `shouldStop` returns true (checked at least every 200 ms); reloads the
    /// topology whenever `shouldReload` returns true.
    public func run(shouldStop: () -> Bool, shouldReload: () -> Bool = { false }) throws {
        log.info("broker listening", ["broker": config.brokerID, "endpoint": endpoint,
                                       "pending": (try? store.pendingCounts().values.reduce(0, +)) ?? 0])
        if let ready = config.readyFile {
            try? (endpoint + "\n").write(toFile: ready, atomically: true, encoding: .utf8)
        }
        var lastSweep = Timestamp.now()
        while !shouldStop() {
            if shouldReload() { reloadTopology() }
            let ready = try ZMQPoller.pollIn([router, zap], timeoutMs: 200)
            if ready[1] { try serveZAP() }
            if ready[0] { try serveRound() }
            monitorTick()
            let now = Timestamp.now()
            if now.milliseconds - lastSweep.milliseconds > 1000 {
                expireSessions(now: now)
                retryUnrecordedReceipts(now: now)
                lastSweep = now
            }
        }
        log.info("broker stopping", ["broker": config.brokerID])
    }

    // MARK: - ZAP

    func serveZAP() throws {
        while let request = try zap.receive(dontWait: true) {
            let decision = zapHandler.handle(request.frames)
            if decision.identity == nil {
                log.warning("connection refused", ["peer.address": decision.address, "mechanism": decision.mechanism,
                                                   "reason": String(decoding: decision.reply[3], as: UTF8.self)])
            }
            try zap.send(decision.reply)
        }
    }

    // MARK: - One round: read all, commit once, answer

    /// What a submission carries, decoded and checked (signature included) before the commit.
    enum Payload: Sendable {
        case letter(Letter)
        case disposition(Disposition)
        case status(StatusUpdate)
    }

    struct Submission {
        let routingID: [UInt8]
        let agency: String
        let envelope: Envelope
        let payload: Payload
    }

    typealias ReceiptInput = (routingID: [UInt8], agency: String, envelope: Envelope, receipt: Receipt)

    func serveRound() throws {
        var submissions: [Submission] = []
        var unchecked: [(routingID: [UInt8], agency: String, envelope: Envelope)] = []
        var receipts: [ReceiptInput] = []
        var batchBytes = 0
        while submissions.count < 512, batchBytes < 64 << 20, let msg = try router.receive(dontWait: true) {
            guard msg.frames.count >= 1 else { continue }
            let routingID = [UInt8](msg.frames[0])
            batchBytes += msg.frames.reduce(0) { $0 + $1.count }
            noteReceived(msg, routingID: routingID)
            guard let userID = msg.userId, let who = PeerIdentity(userID: userID) else {
                // Cannot happen with ZAP enforcing CURVE; refuse rather than trust.
                reply(routingID, .refused(id: "-", code: .forbidden, reason: "unauthenticated connection"))
                continue
            }
            let command: ClientCommand
            do {
                command = try ClientCommand.decode(msg.frames.dropFirst())
            } catch let e as ProtocolError {
                let id = Self.bestEffortID(msg.frames)
                log.warning("message refused", ["peer": userID, "message.id": id, "code": e.code.rawValue, "reason": e.reason])
                reply(routingID, .refused(id: id, code: e.code, reason: e.reason))
                continue
            }
            if case .agency(let agency) = who, sessions[agency]?.routingID == routingID { sessions[agency]?.lastSeen = .now() }
            if case .trace(let id) = command {
                answerTrace(id: id, who: who, routingID: routingID)
                continue
            }
            if serveOperatorCommand(command, who: who, routingID: routingID) { continue }
            guard case .agency(let agency) = who else {
                reply(routingID, .refused(id: "-", code: .forbidden, reason: "operators may not use \(command.name)"))
                continue
            }
            switch command {
            case .ping:
                if sessions[agency]?.routingID == routingID {
                    reply(routingID, .pong(.subscribed))
                } else {
                    reply(routingID, .pong(replacedSessions[routingID] == agency ? .replaced : .notSubscribed))
                }
            case .subscribe:
                subscribe(agency: agency, routingID: routingID)
            case .submit(let envelope):
                unchecked.append((routingID, agency, envelope))
            case .receipt(let envelope):
                do {
                    let r = try check(receipt: envelope, agency: agency)
                    receipts.append((routingID, agency, envelope, r))
                } catch let e as ProtocolError {
                    log.warning("receipt refused", ["agency": agency, "message.id": envelope.id, "code": e.code.rawValue, "reason": e.reason])
                    reply(routingID, .refused(id: envelope.id, code: e.code, reason: e.reason))
                }
            case .trace, .stats, .watch:
                break  // answered above
            }
        }
        // Signature checks and JSON decoding dominate a round's CPU; they need no store, so
        // they run on both cores. Results keep arrival order.
        let checked = Self.checkAll(unchecked, topology: topology)
        for (input, result) in zip(unchecked, checked) {
            switch result {
            case .success(let payload):
                submissions.append(Submission(routingID: input.routingID, agency: input.agency, envelope: input.envelope, payload: payload))
            case .failure(let e):
                // Idempotent before anything else: the very message accepted earlier gets the
                // same answer, even if the topology has changed since (a recipient revoked).
                if acceptAgainIfStored(input.envelope, agency: input.agency, routingID: input.routingID) { continue }
                log.warning("submission refused", ["agency": input.agency, "message.id": input.envelope.id, "code": e.code.rawValue, "reason": e.reason])
                reply(input.routingID, .refused(id: input.envelope.id, code: e.code, reason: e.reason))
            }
        }
        guard !submissions.isEmpty || !receipts.isEmpty else { return }
        commit(submissions: submissions, receipts: receipts)
    }

    /// When this agency's identical message is already stored (same id, header, signature, and
    /// attachments matching the header), answers ACCEPTED for it again and returns true. A
    /// resubmission with any byte changed gets its refusal: an acceptance is evidence.
    func acceptAgainIfStored(_ envelope: Envelope, agency: String, routingID: [UInt8]) -> Bool {
        guard envelope.signerID == agency, let stored = try? store.message(id: envelope.id),
              stored.sender == agency, stored.hash == envelope.hash, stored.signature == envelope.signature,
              (try? envelope.verifyAttachments()) != nil else { return false }
        sendAcceptance(routingID, agency: agency, items: [.init(id: envelope.id, sha256: envelope.hash.hexString)], at: .now())
        return true
    }

    /// The broker's signed evidence that `items` are durably accepted, to one connection.
    func sendAcceptance(_ routingID: [UInt8], agency: String, items: [Acceptance.Item], at time: Timestamp) {
        let acceptance = Acceptance(id: MessageID.generate(at: time), from: config.brokerID, created: time.text, to: agency, items: items)
        do {
            reply(routingID, .accepted(try Envelope.seal(acceptance, with: key)))
        } catch {
            log.error("cannot sign acceptance", ["error": "\(error)"])
        }
    }

    /// Runs `check(submission:)` over a round's submissions, in parallel when there are enough
    /// to pay for it. Pure: reads only the topology value.
    static func checkAll(_ inputs: [(routingID: [UInt8], agency: String, envelope: Envelope)], topology: Topology)
        -> [Result<Payload, ProtocolError>] {
        @Sendable func one(_ i: Int) -> Result<Payload, ProtocolError> {
            do { return .success(try check(submission: inputs[i].envelope, agency: inputs[i].agency, topology: topology)) }
            catch let e as ProtocolError { return .failure(e) }
            catch { return .failure(ProtocolError(.malformed, "\(error)")) }
        }
        guard inputs.count >= 8 else { return inputs.indices.map(one) }
        let results = ResultSlots<Result<Payload, ProtocolError>>(count: inputs.count)
        let chunks = 2
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in stride(from: c, to: inputs.count, by: chunks) { results.set(i, one(i)) }
        }
        return results.values()
    }

    /// The checks that need no store: who signs, clock, fields and limits, recipients known,
    /// signature. Throws ProtocolError naming the field or reason.
    static func check(submission envelope: Envelope, agency: String, topology: Topology) throws -> Payload {
        guard envelope.signerID == agency else {
            throw ProtocolError(.forbidden, "from: the message says '\(envelope.common.from)' but this connection is agency '\(agency)'")
        }
        if let created = Timestamp(text: envelope.common.created),
           created.milliseconds > Timestamp.now().milliseconds + Limits.maxClockSkewMilliseconds {
            throw ProtocolError(.futureTimestamp, "created: \(envelope.common.created) is more than 5 minutes ahead of the broker's clock")
        }
        func valid(_ body: () throws -> Void) throws {
            do { try body() } catch let e as ValidationError { throw ProtocolError(.invalid, e.description) }
        }
        func known(_ list: [String], field: String) throws {
            for text in list {
                do { try topology.check(Address(parsing: text), field: field) } catch let e as ValidationError {
                    throw ProtocolError(.unknownRecipient, e.description)
                }
            }
        }
        let payload: Payload
        switch envelope.kind {
        case "letter":
            let letter = try envelope.decode(Letter.self)
            try valid { try letter.validate(); try topology.check(letter.sender, field: "from") }
            try known(letter.to, field: "to")
            try known(letter.cc, field: "cc")
            payload = .letter(letter)
        case "disposition":
            let d = try envelope.decode(Disposition.self)
            try valid { try d.validate(); try topology.check(Address(parsing: d.from), field: "from") }
            try known(d.to, field: "to")
            payload = .disposition(d)
        case "status":
            let st = try envelope.decode(StatusUpdate.self)
            try valid { try st.validate(); try topology.check(Address(parsing: st.from), field: "from") }
            payload = .status(st)
        default:
            throw ProtocolError(.invalid, "kind: '\(envelope.kind.prefix(32))' cannot be submitted (letter, disposition, status)")
        }
        // The current key, or a key rotated out after the message was signed (a letter that
        // waited in the outbox across `bus-cli rekey`); the connection itself is the current key's.
        let keys = topology.verificationKeys(ofAgency: agency, created: envelope.common.created)
        guard !keys.isEmpty else {
            throw ProtocolError(.forbidden, "agency '\(agency)' has no publicKey in the broker's topology")
        }
        try envelope.verify(withAnyOf: keys)
        return payload
    }

    func check(receipt envelope: Envelope, agency: String) throws -> Receipt {
        guard envelope.kind == "receipt" else { throw ProtocolError(.invalid, "kind: RECEIPT carries a 'receipt'") }
        guard envelope.signerID == agency else {
            throw ProtocolError(.forbidden, "from: the receipt says '\(envelope.common.from)' but this connection is agency '\(agency)'")
        }
        let receipt = try envelope.decode(Receipt.self)
        try receipt.validate()
        let keys = topology.verificationKeys(ofAgency: agency, created: envelope.common.created)
        guard !keys.isEmpty else {
            throw ProtocolError(.forbidden, "agency '\(agency)' has no publicKey in the broker's topology")
        }
        try envelope.verify(withAnyOf: keys)
        return receipt
    }

    /// One durable transaction for the whole round, then the answers. Each submission and
    /// receipt is admitted in its own savepoint, in arrival order, so one refusal does not
    /// undo the others and a disposition may build on one accepted earlier in the same round.
    func commit(submissions: [Submission], receipts: [ReceiptInput]) {
        let now = Timestamp.now()
        beginStagedEvents()
        var touched = Set<String>()
        var accepted: [Submission] = []
        var receipted: [(agency: String, ids: [String])] = []
        var refusals: [(routingID: [UInt8], id: String, error: ProtocolError)] = []
        do {
            try store.db.inTransaction {
                for s in submissions {
                    do {
                        let fresh = try store.db.inTransaction { try admit(s, now: now, touched: &touched) }
                        accepted.append(s)
                        if fresh {
                            log.info("message accepted", ["message.id": s.envelope.id, "kind": s.envelope.kind, "agency": s.agency])
                            stageAccepted(s, now: now)
                        }
                    } catch let e as ProtocolError {
                        refusals.append((s.routingID, s.envelope.id, e))
                    }
                }
                for r in receipts {
                    let mark = stagedMark()
                    do {
                        try store.db.inTransaction { try apply(receipt: r.receipt, envelope: r.envelope, agency: r.agency, now: now, touched: &touched) }
                        receipted.append((r.agency, r.receipt.items.map(\.id)))
                    } catch let e as ProtocolError {
                        rollbackStaged(to: mark)
                        refusals.append((r.routingID, r.envelope.id, e))
                    }
                }
            }
        } catch {
            let storageFull = (error as? SQLiteError)?.isStorageFull == true
            let code: RefusalCode = storageFull ? .storageFull : .storageError
            let reason = storageFull ? "broker storage full; the letter stays in your outbox, try again later"
                                     : "broker storage error; the letter stays in your outbox, try again later"
            log.error("commit failed", ["error": "\(error)", "submissions": submissions.count, "receipts": receipts.count])
            for s in submissions { reply(s.routingID, .refused(id: s.envelope.id, code: code, reason: reason)) }
            for r in receipts {
                reply(r.routingID, .refused(id: r.envelope.id, code: code, reason: "broker storage problem; the receipt was not recorded"))
                // Keep delivering what the store holds: the window is freed as if receipted, and
                // the session is rewound later so the unrecorded deliveries go out again (the
                // node de-duplicates and receipts them once the store can record it).
                for item in r.receipt.items { sessions[r.agency]?.receipted(messageID: item.id) }
                if unrecordedReceipts[r.agency] == nil { unrecordedReceipts[r.agency] = Timestamp.now() }
                pump(agency: r.agency)
            }
            return
        }
        publishStagedEvents()
        // Durable now: the receipted deliveries leave their session's window.
        for r in receipted { for id in r.ids { sessions[r.agency]?.receipted(messageID: id) } }
        let committed = Timestamp.now()
        for e in refusals {
            log.warning("refused", ["message.id": e.id, "code": e.error.code.rawValue, "reason": e.error.reason])
            reply(e.routingID, .refused(id: e.id, code: e.error.code, reason: e.error.reason))
        }
        // One signed acceptance per connection per round.
        var byConnection: [[UInt8]: (agency: String, items: [Acceptance.Item])] = [:]
        for s in accepted {
            byConnection[s.routingID, default: (s.agency, [])].items.append(.init(id: s.envelope.id, sha256: s.envelope.hash.hexString))
        }
        for (routingID, batch) in byConnection { sendAcceptance(routingID, agency: batch.agency, items: batch.items, at: committed) }
        for agency in touched { pump(agency: agency) }
    }

    /// The checks that need the store, then the insert. Returns false when the same message
    /// was already accepted (idempotent resubmission: accepted again, delivered once).
    func admit(_ s: Submission, now: Timestamp, touched: inout Set<String>) throws -> Bool {
        let envelope = s.envelope
        if let existing = try store.message(id: envelope.id) {
            guard existing.hash == envelope.hash else {
                throw ProtocolError(.conflict, "id \(envelope.id) was already accepted with different content")
            }
            return false
        }
        let from = envelope.common.from
        var events: [TraceEvent] = []
        let recipients: [String]
        switch s.payload {
        case .letter(let letter):
            recipients = letter.recipientAgencies
            try store.insertItem(.init(id: letter.id, letterID: letter.id, kind: "letter", parent: nil, sender: s.agency,
                                       summary: Self.summary(["subject": letter.subject, "to": letter.to + letter.cc, "urgency": letter.urgency])),
                                 holders: recipients)
            events.append(TraceEvent(letter: letter.id, item: letter.id, kind: "sent", at: Timestamp(text: letter.created) ?? now,
                                     place: from, signer: s.agency, detail: letter.number))
            events.append(TraceEvent(letter: letter.id, item: letter.id, kind: "accepted", at: now, place: config.brokerID, signer: config.brokerID))
        case .disposition(let d):
            guard let letterItem = try store.item(id: d.letter), letterItem.kind == "letter" else {
                throw ProtocolError(.notFound, "letter: \(d.letter) is not known to the broker")
            }
            if let parent = d.parent {
                guard let p = try store.item(id: parent), p.kind == "disposition", p.letterID == d.letter else {
                    throw ProtocolError(.notFound, "parent: \(parent) is not a disposition of letter \(d.letter)")
                }
                guard try store.isHolder(agency: s.agency, letterID: d.letter, itemID: parent) else {
                    throw ProtocolError(.forbidden, "agency '\(s.agency)' did not receive disposition \(parent), so it may not dispose it")
                }
            } else {
                // A holder of the letter: a recipient of it or of any disposition of it.
                guard try store.isHolder(agency: s.agency, letterID: d.letter) else {
                    throw ProtocolError(.forbidden, "agency '\(s.agency)' holds neither letter \(d.letter) nor a disposition of it, so it may not dispose it")
                }
            }
            recipients = d.recipientAgencies
            // A new holder in another agency gets the letter itself first (same per-recipient
            // order: its delivery row is older than the disposition's).
            for agency in recipients where !(try store.isHolder(agency: agency, letterID: d.letter)) {
                try store.addDelivery(messageID: d.letter, recipient: agency)
            }
            try store.insertItem(.init(id: d.id, letterID: d.letter, kind: "disposition", parent: d.parent ?? d.letter, sender: s.agency,
                                       summary: Self.summary(["to": d.to, "instructions": d.instructions, "note": d.note,
                                                              "due": d.due as Any, "urgency": d.urgency])),
                                 holders: recipients)
            events.append(TraceEvent(letter: d.letter, item: d.id, kind: "disposed", at: Timestamp(text: d.created) ?? now,
                                     place: from, signer: s.agency, detail: d.instructions.joined(separator: ",")))
            events.append(TraceEvent(letter: d.letter, item: d.id, kind: "accepted", at: now, place: config.brokerID, signer: config.brokerID))
        case .status(let st):
            guard let item = try store.item(id: st.item), item.letterID == st.letter else {
                throw ProtocolError(.notFound, "item: \(st.item) is not a letter or disposition known to the broker")
            }
            // On a letter: any holder of it; on a disposition: a recipient of that disposition.
            let holds = item.kind == "letter" ? try store.isHolder(agency: s.agency, letterID: item.letterID)
                                              : try store.isHolder(agency: s.agency, letterID: item.letterID, itemID: item.id)
            guard holds else {
                throw ProtocolError(.forbidden, "agency '\(s.agency)' did not receive \(st.item), so it cannot report its status")
            }
            guard st.to == item.sender else {
                throw ProtocolError(.invalid, "to: a status on \(st.item) goes to its sender '\(item.sender)', not '\(st.to)'")
            }
            recipients = [item.sender]
            events.append(TraceEvent(letter: item.letterID, item: item.id, kind: st.status, at: now, place: from,
                                     signer: s.agency, detail: st.note))
        }
        try store.insert(envelope, sender: s.agency, recipients: recipients, acceptedAt: now)
        for e in events { try store.recordEvent(e) }
        touched.formUnion(recipients)
        return true
    }

    /// The message id of an undecodable SUBMIT when its header still names one, so the sender
    /// can match the refusal; "-" otherwise.
    static func bestEffortID(_ frames: [Data]) -> String {
        guard frames.count >= 4, frames[2] == Data("SUBMIT".utf8), frames[3].count <= Limits.maxHeaderBytes else { return "-" }
        if let object = try? JSONSerialization.jsonObject(with: frames[3]) as? [String: Any] {
            guard let id = object["id"] as? String, MessageID.isValid(id) else { return "-" }
            return id
        }
        // Not JSON (a number out of range, stray bytes): a literal "id":"<ULID>" still names it.
        let text = String(decoding: frames[3], as: UTF8.self)
        guard let match = text.firstMatch(of: idField) else { return "-" }
        let id = String(match.1)
        return MessageID.isValid(id) ? id : "-"
    }

    nonisolated(unsafe) private static let idField = #/"id"\s*:\s*"([0-9A-Za-z]{26})"/#

    static func summary(_ fields: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: fields.filter { !($0.value is NSNull) }, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Applies one receipt: closes the deliveries it names, records the trace hops, and, for a
    /// receipt addressed to the original sender, stores it as a message to deliver to that sender.
    func apply(receipt: Receipt, envelope: Envelope, agency: String, now: Timestamp, touched: inout Set<String>) throws {
        var forwardable = receipt.to != "broker" && receipt.items.contains { $0.status != "deferred" }
        for item in receipt.items {
            if item.status == "deferred" { continue }  // only frees the window (applied after commit)
            guard let d = try store.delivery(messageID: item.id, recipient: agency) else {
                throw ProtocolError(.notFound, "items: message \(item.id) was never delivered to '\(agency)'")
            }
            guard d.messageHash.hexString == item.sha256.lowercased() else {
                throw ProtocolError(.invalid, "items: sha256 for \(item.id) does not match the message the broker delivered")
            }
            if receipt.to != "broker" && d.messageSender != receipt.to {
                throw ProtocolError(.forbidden, "to: message \(item.id) was sent by '\(d.messageSender)', not '\(receipt.to)'")
            }
            let tracked = d.messageKind == "letter" || d.messageKind == "disposition"
            if tracked && receipt.to == "broker" {
                throw ProtocolError(.forbidden, "to: the receipt for \(d.messageKind) \(item.id) goes to its sender '\(d.messageSender)', not to the broker")
            }
            if !tracked { forwardable = false }
            let state: BrokerStore.DeliveryState = item.status == "stored" ? .stored : .rejected
            if try store.close(deliverySeq: d.seq, state: state, reason: item.reason, at: now) {
                log.info(state == .stored ? "message delivered" : "message rejected by recipient",
                         ["message.id": item.id, "recipient": agency])
                stageDelivery(d, id: item.id, recipient: agency, stored: state == .stored, reason: item.reason, now: now)
                if tracked, let it = try store.item(id: item.id) {
                    let sentAt = sessions[agency]?.inFlight[item.id]?.sentAt ?? now
                    try store.recordEvent(TraceEvent(letter: it.letterID, item: it.id, kind: "delivered", at: min(sentAt, now),
                                                     place: agency, signer: config.brokerID))
                    try store.recordEvent(TraceEvent(letter: it.letterID, item: it.id, kind: state == .stored ? "stored" : "rejected",
                                                     at: now, place: agency, signer: agency, detail: item.reason))
                }
            }
        }
        touched.insert(agency)
        if forwardable, try store.message(id: envelope.id) == nil {
            try store.insert(envelope, sender: agency, recipients: [receipt.to], acceptedAt: now)
            touched.insert(receipt.to)
        }
    }

    // MARK: - Trace

    /// Answers a trace query: the whole tree of the letter the id belongs to, but only to an
    /// agency involved in it or an operator. Everyone else gets the same "not found" as for an
    /// id that does not exist, so ids leak nothing.
    func answerTrace(id: String, who: PeerIdentity, routingID: [UInt8]) {
        let notFound = BrokerCommand.refused(id: id, code: .notFound, reason: "no letter or disposition \(id) that you may trace")
        do {
            guard let item = try store.item(id: id) else { reply(routingID, notFound); return }
            if case .agency(let agency) = who, try !store.isInvolved(agency: agency, letterID: item.letterID) {
                log.warning("trace refused: not involved", ["agency": agency, "message.id": id])
                reply(routingID, notFound)
                return
            }
            // Involved agencies see everything; an operator sees the route (ids, who, when,
            // instructions, due dates) but no subject or free text unless the topology grants
            // it content, as on the operator stream.
            let content: Bool
            switch who {
            case .agency: content = true
            case .operator(let op): content = topology.operator(op)?.content == true
            }
            let items = try store.items(letterID: item.letterID).map { it -> TraceReport.Item in
                let summary = (try? JSONSerialization.jsonObject(with: Data(it.summary.utf8))) as? [String: Any] ?? [:]
                return TraceReport.Item(id: it.id, kind: it.kind, parent: it.kind == "letter" ? nil : it.parent,
                                        from: it.sender, to: summary["to"] as? [String] ?? [],
                                        subject: content ? summary["subject"] as? String : nil,
                                        instructions: summary["instructions"] as? [String],
                                        note: content ? summary["note"] as? String : nil, due: summary["due"] as? String,
                                        urgency: summary["urgency"] as? String)
            }
            var events = try store.events(letterID: item.letterID)
            if !content {
                // Status notes and a recipient node's rejection reason are free text (they can
                // quote the letter); letter numbers and instructions are not.
                for i in events.indices where ["read", "in-progress", "done", "rejected"].contains(events[i].kind) { events[i].detail = nil }
            }
            let report = TraceReport(letter: item.letterID, query: id, items: items, events: events)
            reply(routingID, .traced(try Envelope.encoder.encode(report)))
        } catch {
            log.error("trace failed", ["message.id": id, "error": "\(error)"])
            reply(routingID, .refused(id: id, code: .storageError, reason: "the broker could not read its trace log; try again"))
        }
    }

    // MARK: - Delivery

    func subscribe(agency: String, routingID: [UInt8]) {
        if let old = sessions[agency], old.routingID != routingID {
            log.warning("session taken over by another subscriber", ["agency": agency, "in_flight": old.inFlight.count])
            if replacedSessions.count > 1000 { replacedSessions.removeAll() }
            replacedSessions[old.routingID] = agency
        }
        replacedSessions[routingID] = nil
        sessions[agency] = DeliverySession(agency: agency, routingID: routingID, now: .now())
        reply(routingID, .subscribed(agency: agency))
        log.info("node subscribed", ["agency": agency])
        pump(agency: agency)
    }

    /// Sends pending deliveries to the agency's session while the window has room.
    func pump(agency: String) {
        guard var session = sessions[agency] else { return }
        defer { if sessions[agency]?.routingID == session.routingID { sessions[agency] = session } }
        func room() -> Int { session.room(window: config.window, windowBytes: config.windowBytes) }
        while room() > 0 {
            let batch: [BrokerStore.PendingDelivery]
            do {
                batch = try store.pending(for: agency, after: session.cursor, limit: room())
            } catch {
                log.error("cannot read pending deliveries", ["agency": agency, "error": "\(error)"])
                return
            }
            if batch.isEmpty { return }
            for d in batch {
                // The byte bound may close the window before the batch is through.
                if room() == 0 { return }
                guard let attachments = try? store.attachmentData(messageSeq: d.messageSeq) else {
                    log.error("stored message unreadable", ["message.id": d.messageID])
                    session.cursor = d.seq
                    continue
                }
                // The stored bytes go out as they came in: DELIVER | header | signature | attachments.
                let frames = [Data(session.routingID), Protocol.signature, Data("DELIVER".utf8), d.header, d.signature] + attachments
                do {
                    try router.send(frames, dontWait: true)
                    session.sent(messageID: d.messageID, deliverySeq: d.seq, at: .now(),
                                 bytes: d.header.count + attachments.reduce(0) { $0 + $1.count })
                    noteSent(frames)
                } catch let e as ZMQError where e.isWouldBlock {
                    return  // the node's pipe is full; resume on its next receipt
                } catch {
                    // Normal when a short-lived command's connection held the session: what was
                    // not receipted waits, in order, for the node's next SUBSCRIBE.
                    log.info("node connection gone; its deliveries wait for its next subscribe", ["agency": agency, "detail": "\(error)"])
                    sessions[agency] = nil
                    session = DeliverySession(agency: agency, routingID: [], now: .now())
                    return
                }
            }
        }
    }

    /// Rewinds the sessions of agencies whose receipts went unrecorded a while ago: everything
    /// still pending for them is delivered again, in acceptance order.
    func retryUnrecordedReceipts(now: Timestamp) {
        for (agency, since) in unrecordedReceipts where now.milliseconds - since.milliseconds >= Self.unrecordedReceiptRetryMilliseconds {
            unrecordedReceipts[agency] = nil
            guard sessions[agency] != nil else { continue }  // a new session starts from the beginning anyway
            sessions[agency]?.rewind()
            log.info("redelivering what was delivered while receipts could not be recorded", ["agency": agency])
            pump(agency: agency)
        }
    }

    func expireSessions(now: Timestamp) {
        for (agency, s) in sessions where now.milliseconds - s.lastSeen.milliseconds > config.sessionTimeoutMilliseconds {
            log.warning("node silent, session dropped", ["agency": agency, "in_flight": s.inFlight.count])
            sessions[agency] = nil
        }
    }

    func reply(_ routingID: [UInt8], _ command: BrokerCommand) {
        noteReply(routingID, command)
        do {
            try router.send([Data(routingID)] + command.encode(), dontWait: true)
        } catch {
            log.warning("cannot answer peer", ["command": command.name, "error": "\(error)"])
        }
    }
}

/// Slots filled from several threads at once (parallel checks), read after they all finished.
// @unchecked Sendable: every access goes through `lock`.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ value: T) {
        lock.lock()
        slots[i] = value
        lock.unlock()
    }

    /// Every slot, in order; each must have been set (a missing one is our bug).
    func values() -> [T] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}
