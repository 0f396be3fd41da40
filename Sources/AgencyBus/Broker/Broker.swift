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
    public var window: Int = 64
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
    let router: ZMQSocket
    let zap: ZMQSocket
    var zapHandler: ZAPHandler
    public private(set) var endpoint: String = ""
    var sessions: [String: DeliverySession] = [:]

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
        store = try BrokerStore(path: config.dataDirectory + "/queue.sqlite")
        zapHandler = ZAPHandler(topology: topology)

        // The ZAP handler must be bound before the CURVE socket accepts its first peer.
        zap = try ZMQSocket(context: context, kind: .rep, linger: 0)
        try zap.bind(ZAPHandler.endpoint)
        router = try ZMQSocket(context: context, kind: .router)
        try router.setOption(ZMQ_ROUTER_MANDATORY, Int32(1))
        try router.setOption(ZMQ_MAXMSGSIZE, Limits.maxWireMessageBytes)
        try router.setOption(ZMQ_SNDHWM, Int32(10_000))
        try router.setOption(ZMQ_RCVHWM, Int32(10_000))
        try router.makeCurveServer(secretKey: key.curveSecretKey, zapDomain: ZAPHandler.domain)
        let bindTo = config.bindEndpoint ?? me.endpoint
        do { try router.bind(bindTo) } catch let e as ZMQError {
            throw BrokerStartError("cannot listen on \(bindTo): \(String(cString: zmq_strerror(e.code)))")
        }
        endpoint = router.lastEndpoint
    }

    /// Runs until `shouldStop` returns true (checked at least every 200 ms).
    public func run(shouldStop: () -> Bool) throws {
        log.info("broker listening", ["broker": config.brokerID, "endpoint": endpoint,
                                       "pending": (try? store.pendingCounts().values.reduce(0, +)) ?? 0])
        if let ready = config.readyFile {
            try? (endpoint + "\n").write(toFile: ready, atomically: true, encoding: .utf8)
        }
        var lastSweep = Timestamp.now()
        while !shouldStop() {
            let ready = try ZMQPoller.pollIn([router, zap], timeoutMs: 200)
            if ready[1] { try serveZAP() }
            if ready[0] { try serveRound() }
            let now = Timestamp.now()
            if now.milliseconds - lastSweep.milliseconds > 1000 {
                expireSessions(now: now)
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

    struct Submission {
        let routingID: [UInt8]
        let agency: String
        let envelope: Envelope
        let recipients: [String]
        var alreadyStored: Bool
    }

    func serveRound() throws {
        var submissions: [Submission] = []
        var receipts: [(routingID: [UInt8], agency: String, envelope: Envelope, receipt: Receipt)] = []
        var batchBytes = 0
        while submissions.count < 512, batchBytes < 64 << 20, let msg = try router.receive(dontWait: true) {
            guard msg.frames.count >= 1 else { continue }
            let routingID = [UInt8](msg.frames[0])
            batchBytes += msg.frames.reduce(0) { $0 + $1.count }
            guard let userID = msg.userId, let who = PeerIdentity(userID: userID) else {
                // Cannot happen with ZAP enforcing CURVE; refuse rather than trust.
                reply(routingID, .refused(id: "-", code: .forbidden, reason: "unauthenticated connection"))
                continue
            }
            let command: ClientCommand
            do {
                command = try ClientCommand.decode(msg.frames.dropFirst())
            } catch let e as ProtocolError {
                log.warning("message refused", ["peer": userID, "code": e.code.rawValue, "reason": e.reason])
                reply(routingID, .refused(id: "-", code: e.code, reason: e.reason))
                continue
            }
            guard case .agency(let agency) = who else {
                reply(routingID, .refused(id: "-", code: .forbidden, reason: "operators may not use \(command.name)"))
                continue
            }
            switch command {
            case .ping:
                let live = sessions[agency]?.routingID == routingID
                if live { sessions[agency]?.lastSeen = .now() }
                reply(routingID, .pong(subscribed: live))
            case .subscribe:
                subscribe(agency: agency, routingID: routingID)
            case .submit(let envelope):
                do {
                    var s = try check(submission: envelope, agency: agency, routingID: routingID)
                    if submissions.contains(where: { $0.envelope.id == envelope.id }) { s.alreadyStored = true }
                    submissions.append(s)
                } catch let e as ProtocolError {
                    log.warning("submission refused", ["agency": agency, "message.id": envelope.id, "code": e.code.rawValue, "reason": e.reason])
                    reply(routingID, .refused(id: envelope.id, code: e.code, reason: e.reason))
                }
            case .receipt(let envelope):
                do {
                    let r = try check(receipt: envelope, agency: agency)
                    receipts.append((routingID, agency, envelope, r))
                } catch let e as ProtocolError {
                    log.warning("receipt refused", ["agency": agency, "message.id": envelope.id, "code": e.code.rawValue, "reason": e.reason])
                    reply(routingID, .refused(id: envelope.id, code: e.code, reason: e.reason))
                }
            }
        }
        guard !submissions.isEmpty || !receipts.isEmpty else { return }
        commit(submissions: submissions, receipts: receipts)
    }

    /// Every check a submission must pass before it may be stored. Throws ProtocolError.
    func check(submission envelope: Envelope, agency: String, routingID: [UInt8]) throws -> Submission {
        guard envelope.signerID == agency else {
            throw ProtocolError(.forbidden, "from: the message says '\(envelope.common.from)' but this connection is agency '\(agency)'")
        }
        if let created = Timestamp(text: envelope.common.created),
           created.milliseconds > Timestamp.now().milliseconds + Limits.maxClockSkewMilliseconds {
            throw ProtocolError(.futureTimestamp, "created: \(envelope.common.created) is more than 5 minutes ahead of the broker's clock")
        }
        guard envelope.kind == "letter" else {
            throw ProtocolError(.invalid, "kind: '\(envelope.kind.prefix(32))' cannot be submitted (letter)")
        }
        let letter = try envelope.decode(Letter.self)
        do { try letter.validate() } catch let e as ValidationError { throw ProtocolError(.invalid, e.description) }
        for (field, list) in [("to", letter.to), ("cc", letter.cc)] {
            for text in list {
                do { try topology.check(Address(parsing: text), field: field) } catch let e as ValidationError {
                    throw ProtocolError(.unknownRecipient, e.description)
                }
            }
        }
        do { try topology.check(letter.sender, field: "from") } catch let e as ValidationError {
            throw ProtocolError(.invalid, e.description)
        }
        guard let publicKey = topology.publicKey(ofAgency: agency) else {
            throw ProtocolError(.forbidden, "agency '\(agency)' has no publicKey in the broker's topology")
        }
        try envelope.verify(with: publicKey)
        var stored = false
        if let existing = try? store.message(id: envelope.id) {
            guard existing.hash == envelope.hash else {
                throw ProtocolError(.conflict, "id \(envelope.id) was already accepted with different content")
            }
            stored = true
        }
        return Submission(routingID: routingID, agency: agency, envelope: envelope,
                          recipients: letter.recipientAgencies, alreadyStored: stored)
    }

    func check(receipt envelope: Envelope, agency: String) throws -> Receipt {
        guard envelope.kind == "receipt" else { throw ProtocolError(.invalid, "kind: RECEIPT carries a 'receipt'") }
        guard envelope.signerID == agency else {
            throw ProtocolError(.forbidden, "from: the receipt says '\(envelope.common.from)' but this connection is agency '\(agency)'")
        }
        let receipt = try envelope.decode(Receipt.self)
        try receipt.validate()
        guard let publicKey = topology.publicKey(ofAgency: agency) else {
            throw ProtocolError(.forbidden, "agency '\(agency)' has no publicKey in the broker's topology")
        }
        try envelope.verify(with: publicKey)
        return receipt
    }

    /// One durable transaction for the whole round, then the answers.
    func commit(submissions: [Submission], receipts: [(routingID: [UInt8], agency: String, envelope: Envelope, receipt: Receipt)]) {
        let now = Timestamp.now()
        var touched = Set<String>()
        var receiptErrors: [(routingID: [UInt8], id: String, error: ProtocolError)] = []
        do {
            try store.db.inTransaction {
                for s in submissions where !s.alreadyStored {
                    try store.insert(s.envelope, sender: s.agency, recipients: s.recipients, acceptedAt: now)
                    touched.formUnion(s.recipients)
                }
                for r in receipts {
                    do {
                        try store.db.inTransaction { try apply(receipt: r.receipt, envelope: r.envelope, agency: r.agency, now: now, touched: &touched) }
                    } catch let e as ProtocolError {
                        receiptErrors.append((r.routingID, r.envelope.id, e))
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
            return
        }
        for e in receiptErrors {
            log.warning("receipt refused", ["message.id": e.id, "code": e.error.code.rawValue, "reason": e.error.reason])
            reply(e.routingID, .refused(id: e.id, code: e.error.code, reason: e.error.reason))
        }
        // One signed acceptance per connection per round.
        var byConnection: [[UInt8]: (agency: String, items: [Acceptance.Item])] = [:]
        for s in submissions {
            byConnection[s.routingID, default: (s.agency, [])].items.append(.init(id: s.envelope.id, sha256: s.envelope.hash.hexString))
            if !s.alreadyStored {
                log.info("message accepted", ["message.id": s.envelope.id, "agency": s.agency, "recipients": s.recipients.count])
            }
        }
        for (routingID, batch) in byConnection {
            let acceptance = Acceptance(id: MessageID.generate(at: now), from: config.brokerID, created: now.text,
                                        to: batch.agency, items: batch.items)
            do {
                reply(routingID, .accepted(try Envelope.seal(acceptance, with: key)))
            } catch {
                log.error("cannot sign acceptance", ["error": "\(error)"])
            }
        }
        for agency in touched { pump(agency: agency) }
    }

    /// Applies one receipt: closes the deliveries it names and, for a receipt addressed to the
    /// original sender, stores it as a message to deliver to that sender.
    func apply(receipt: Receipt, envelope: Envelope, agency: String, now: Timestamp, touched: inout Set<String>) throws {
        var forwardable = receipt.to != "broker"
        for item in receipt.items {
            guard let d = try store.delivery(messageID: item.id, recipient: agency) else {
                throw ProtocolError(.notFound, "items: message \(item.id) was never delivered to '\(agency)'")
            }
            guard d.messageHash.hexString == item.sha256.lowercased() else {
                throw ProtocolError(.invalid, "items: sha256 for \(item.id) does not match the message the broker delivered")
            }
            if receipt.to != "broker" && d.messageSender != receipt.to {
                throw ProtocolError(.forbidden, "to: message \(item.id) was sent by '\(d.messageSender)', not '\(receipt.to)'")
            }
            if d.messageKind != "letter" { forwardable = false }
            let state: BrokerStore.DeliveryState = item.status == "stored" ? .stored : .rejected
            if try store.close(deliverySeq: d.seq, state: state, reason: item.reason, at: now) {
                log.info(state == .stored ? "message delivered" : "message rejected by recipient",
                         ["message.id": item.id, "recipient": agency])
            }
            sessions[agency]?.receipted(messageID: item.id)
        }
        touched.insert(agency)
        if forwardable, try store.message(id: envelope.id) == nil {
            try store.insert(envelope, sender: agency, recipients: [receipt.to], acceptedAt: now)
            touched.insert(receipt.to)
        }
    }

    // MARK: - Delivery

    func subscribe(agency: String, routingID: [UInt8]) {
        if let old = sessions[agency], old.routingID != routingID {
            log.info("session replaced", ["agency": agency, "in_flight": old.inFlight.count])
        }
        sessions[agency] = DeliverySession(agency: agency, routingID: routingID, now: .now())
        reply(routingID, .subscribed(agency: agency))
        log.info("node subscribed", ["agency": agency])
        pump(agency: agency)
    }

    /// Sends pending deliveries to the agency's session while the window has room.
    func pump(agency: String) {
        guard var session = sessions[agency] else { return }
        defer { if sessions[agency]?.routingID == session.routingID { sessions[agency] = session } }
        while session.room(window: config.window) > 0 {
            let batch: [BrokerStore.PendingDelivery]
            do {
                batch = try store.pending(for: agency, after: session.cursor, limit: session.room(window: config.window))
            } catch {
                log.error("cannot read pending deliveries", ["agency": agency, "error": "\(error)"])
                return
            }
            if batch.isEmpty { return }
            for d in batch {
                guard let envelope = try? store.envelope(id: d.messageID) else {
                    log.error("stored message unreadable", ["message.id": d.messageID])
                    session.cursor = d.seq
                    continue
                }
                do {
                    try router.send([Data(session.routingID)] + BrokerCommand.deliver(envelope).encode(), dontWait: true)
                    session.sent(messageID: d.messageID, deliverySeq: d.seq)
                } catch let e as ZMQError where e.isWouldBlock {
                    return  // the node's pipe is full; resume on its next receipt
                } catch {
                    log.warning("node gone", ["agency": agency, "error": "\(error)"])
                    sessions[agency] = nil
                    session = DeliverySession(agency: agency, routingID: [], now: .now())
                    return
                }
            }
        }
    }

    func expireSessions(now: Timestamp) {
        for (agency, s) in sessions where now.milliseconds - s.lastSeen.milliseconds > config.sessionTimeoutMilliseconds {
            log.warning("node silent, session dropped", ["agency": agency, "in_flight": s.inFlight.count])
            sessions[agency] = nil
        }
    }

    func reply(_ routingID: [UInt8], _ command: BrokerCommand) {
        do {
            try router.send([Data(routingID)] + command.encode(), dontWait: true)
        } catch {
            log.warning("cannot answer peer", ["command": command.name, "error": "\(error)"])
        }
    }
}
