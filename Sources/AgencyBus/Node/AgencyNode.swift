import Foundation

/// A node: one agency's directory (config, secret key, inbox.sqlite) and its session logic
/// with the broker. Used by `bus-cli`; one owner thread.
public final class AgencyNode {
    public let directory: String
    public let config: NodeConfig
    public private(set) var topology: Topology
    private var topologyModified: Date?
    public let key: SecretKey
    public let store: NodeStore
    public let log: Logger

    public var agency: String { config.agency }

    /// Opens an existing node directory: reads node.json, the topology (again, every start),
    /// the key (refused if group/world readable) and the inbox.
    public init(directory: String, logger: Logger) throws {
        self.directory = directory
        self.log = logger
        config = try NodeConfig.load(directory: directory)
        topology = try Topology.load(path: config.topology)
        guard let me = topology.agency(config.agency) else {
            throw NodeError.notANode("agency '\(config.agency)' of node \(directory) is not in the topology \(config.topology)")
        }
        key = try KeyFile.load(at: NodeConfig.keyPath(in: directory))
        if !me.publicKey.isEmpty && me.publicKey != key.publicKey.text {
            log.warning("topology lists another key for this agency", ["agency": me.id, "topology.key": me.publicKey, "node.key": key.publicKey.text])
        }
        store = try NodeStore(path: NodeConfig.inboxPath(in: directory))
        // Agenda days and years follow the agency's zone (topology `timeZone`, else local).
        try store.prepareRegistry(calendar: AgencyCalendar(identifier: me.timeZone))
        topologyModified = Self.modified(config.topology)
    }

    static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// The signing key of an agency; when the topology does not have it, the topology file is
    /// read again if it changed since (ops may have just pasted the key), so a long-running
    /// subscribe picks it up without a restart.
    ///
    /// Every key that may have signed `envelope`: the signer's current key and any former key
    /// retired after the envelope was created (a rotation). Empty when none is known (held).
    func signingKeys(of envelope: Envelope) -> [PublicKey] {
        let keys = topology.verificationKeys(ofAgency: envelope.signerID, created: envelope.common.created)
        if !keys.isEmpty && topology.publicKey(ofAgency: envelope.signerID) != nil { return keys }
        let now = Self.modified(config.topology)
        guard now != topologyModified, let fresh = try? Topology.load(path: config.topology) else { return keys }
        topology = fresh
        topologyModified = now
        log.info("topology re-read", ["path": config.topology])
        return topology.verificationKeys(ofAgency: envelope.signerID, created: envelope.common.created)
    }

    /// Creates a node directory with a new key. Returns the public key (to paste in the topology).
    public static func initialize(directory: String, agency: String, topologyPath: String) throws -> PublicKey {
        let topology = try Topology.load(path: topologyPath)
        guard topology.agency(agency) != nil else {
            throw NodeError.data("agency '\(agency)' is not in the topology \(topologyPath) (known: \(topology.agencies.map(\.id).joined(separator: ", "))); add it with: bus-broker set-topology --topology \(topologyPath) --add --agency \(agency) --name \"…\"")
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: NodeConfig.path(in: directory)) {
            throw NodeError.usage("\(directory) is already a node; use another directory")
        }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = SecretKey.generate()
        try KeyFile.create(key, at: NodeConfig.keyPath(in: directory))
        let absolute = URL(fileURLWithPath: topologyPath).standardizedFileURL.path
        try NodeConfig(agency: agency, topology: absolute, created: Timestamp.now().text).write(directory: directory)
        _ = try NodeStore(path: NodeConfig.inboxPath(in: directory))
        return key.publicKey
    }

    /// Replaces the node's identity key with a new one (a rotation). The old key is kept,
    /// 0600, as `node.key.retired-<time>`; the new one is written first as `node.key.new` and
    /// renamed over, so a crash leaves either key in place (run it again to finish). Returns
    /// the old and new public keys: ops then run `bus-broker set-topology --agency ID
    /// --public-key NEW`, which keeps the old key under `formerKeys` so that what it signed
    /// stays verifiable, and reload the broker (SIGHUP).
    public static func rekey(directory: String) throws -> (old: PublicKey, new: PublicKey) {
        _ = try NodeConfig.load(directory: directory)
        let fm = FileManager.default
        let current = NodeConfig.keyPath(in: directory), pending = current + ".new"
        if !fm.fileExists(atPath: current) && fm.fileExists(atPath: pending) {
            // An earlier rekey stopped between its two renames: finish it.
            let new = try KeyFile.load(at: pending)
            guard rename(pending, current) == 0 else { throw NodeError.data("cannot rename \(pending): \(String(cString: strerror(errno)))") }
            throw NodeError.data("an interrupted rekey was finished: \(current) now holds \(new.publicKey.text); its retired key is beside it")
        }
        let old = try KeyFile.load(at: current)
        if fm.fileExists(atPath: pending) {
            throw NodeError.data("\(pending) exists (an earlier rekey stopped before it began its renames); remove it and run rekey again")
        }
        let new = SecretKey.generate()
        try KeyFile.create(new, at: pending)
        let stamp = Timestamp.now().text.replacingOccurrences(of: ":", with: "")
        let retired = current + ".retired-" + stamp
        guard link(current, retired) == 0 else {
            try? fm.removeItem(atPath: pending)
            throw NodeError.data("cannot keep the old key as \(retired): \(String(cString: strerror(errno)))")
        }
        guard rename(pending, current) == 0 else {
            throw NodeError.data("cannot install the new key \(pending): \(String(cString: strerror(errno)))")
        }
        let dir = open(directory, O_RDONLY)
        if dir >= 0 { fsync(dir); close(dir) }
        return (old.publicKey, new.publicKey)
    }

    // MARK: - Composing

    public struct Draft {
        public var to: [Address]
        public var cc: [Address] = []
        public var subject: String
        public var body: String
        public var attachments: [URL] = []
        public var number: String?
        public var date: String?
        public var classification: Classification = .biasa
        public var urgency: Urgency = .biasa
        public var fromUnit: String?
        public var replyTo: String?
        public init(to: [Address], subject: String, body: String) { self.to = to; self.subject = subject; self.body = body }
    }

    /// Builds, checks, signs and durably stores a letter in the outbox. Throws NodeError.data
    /// (with the field) for anything wrong, before anything is stored.
    public func compose(_ draft: Draft) throws -> Envelope {
        try compose(batch: [draft])[0]
    }

    /// Composes many letters and stores them in the outbox in one durable transaction (a
    /// circular split per recipient, a load test). All or nothing: any bad draft throws first.
    public func compose(batch drafts: [Draft]) throws -> [Envelope] {
        let sealed = try drafts.map { try seal($0) }
        try store.db.inTransaction {
            for (envelope, letter) in sealed {
                try store.insert(envelope, direction: "out", state: "queued", subject: letter.subject,
                                 attachments: letter.attachments, recipients: letter.recipientAgencies)
            }
        }
        for (envelope, letter) in sealed {
            log.debug("letter queued", ["message.id": envelope.id, "recipients": letter.recipientAgencies.count])
        }
        return sealed.map(\.0)
    }

    /// A revoked agency's signatures are no longer accepted: say so at once instead of
    /// queueing mail in the outbox that no broker will take.
    func refuseIfRevoked() throws {
        if topology.agency(agency)?.revoked == true {
            throw NodeError.permission("agency '\(agency)' is revoked in the topology \(config.topology); the broker accepts nothing from it (ask ops)")
        }
    }

    /// Builds, checks and signs one letter (nothing stored yet).
    func seal(_ draft: Draft) throws -> (Envelope, Letter) {
        try refuseIfRevoked()
        let from = Address(agency: agency, unit: draft.fromUnit)
        do {
            try topology.check(from, field: "from-unit")
            for a in draft.to { try topology.check(a, field: "to") }
            for a in draft.cc { try topology.check(a, field: "cc") }
        } catch let e as ValidationError { throw NodeError.data(e.description) }
        var infos: [AttachmentInfo] = []
        var blobs: [Data] = []
        var total = 0
        for url in draft.attachments {
            let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
            guard let size = (attrs?[.size] as? NSNumber)?.intValue, attrs?[.type] as? FileAttributeType == .typeRegular else {
                throw NodeError.data("attach: cannot read '\(url.path)' (not a regular file)")
            }
            total += size
            if total > Limits.maxAttachmentBytes {
                throw NodeError.data("attach: the attachments come to more than \(Limits.maxAttachmentBytes) bytes (32 MiB), the limit per letter; send them in several letters")
            }
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw NodeError.data("attach: cannot read '\(url.path)'")
            }
            infos.append(AttachmentInfo(name: url.lastPathComponent, size: data.count, mediaType: MediaType.guess(fileName: url.lastPathComponent),
                                        sha256: SHA256.hash(data).hexString))
            blobs.append(data)
        }
        let now = Timestamp.now()
        let id = MessageID.generate(at: now)
        let letter = Letter(id: id, from: from, created: now, number: draft.number ?? "AB/\(id.suffix(8))",
                            date: draft.date ?? store.calendar.today(), to: draft.to, cc: draft.cc,
                            subject: draft.subject, body: draft.body, classification: draft.classification,
                            urgency: draft.urgency, replyTo: draft.replyTo, attachments: infos)
        do { try letter.validate() } catch let e as ValidationError { throw NodeError.data(e.description) }
        return (try Envelope.seal(letter, attachments: blobs, with: key), letter)
    }

    // MARK: - Talking to the broker

    /// Opens a connection to this agency's broker. `context` lets one process that serves many
    /// agencies (a load test, a gateway) share one libzmq context and its I/O thread.
    public func connect(context: ZMQContext = ZMQContext()) throws -> BrokerClient {
        guard let me = topology.agency(agency), let broker = topology.broker(me.broker) else {
            throw NodeError.notANode("agency '\(agency)' has no broker in the topology")
        }
        guard !broker.publicKey.isEmpty, let brokerKey = try? PublicKey(text: broker.publicKey) else {
            throw NodeError.unavailable("broker '\(broker.id)' has no publicKey in the topology \(config.topology); ask ops for it")
        }
        return try BrokerClient(endpoint: broker.endpoint, brokerKey: brokerKey, identity: key, context: context)
    }

    public var brokerDescription: String {
        let b = topology.agency(agency).flatMap { topology.broker($0.broker) }
        return "broker '\(b?.id ?? "?")' at \(b?.endpoint ?? "?")"
    }

    /// Submits everything in the outbox, oldest first. Returns the ids sent.
    @discardableResult
    public func flushOutbox(_ client: BrokerClient) throws -> [String] {
        var sent: [String] = []
        for item in try store.outbox() {
            guard let envelope = try store.envelope(id: item.id) else { continue }
            try client.send(.submit(envelope))
            sent.append(item.id)
        }
        return sent
    }

    /// What handling one broker command produced, for the CLI to print.
    public enum Event {
        case accepted(id: String, at: String)
        case refused(id: String, error: ProtocolError)
        case received(Envelope, Letter)
        case duplicate(id: String)
        case rejected(id: String, reason: String)
        case held(id: String, reason: String)
        case receipt(letterID: String, recipient: String, status: String, reason: String?)
        case subscribed
        case pong(SessionState)
        case disposition(Envelope, Disposition)
        case status(StatusUpdate)
        case traced(TraceReport)
    }

    /// Handles one batch of broker commands: stores what was delivered in one durable
    /// transaction, and only after the commit sends the signed receipts.
    public func handle(_ commands: [BrokerCommand], client: BrokerClient) throws -> [Event] {
        var events: [Event] = []
        var receiptItems: [String: [Receipt.Item]] = [:]  // by receipt `to`
        try store.db.inTransaction {
            for command in commands {
                switch command {
                case .accepted(let envelope):
                    events += try handleAcceptance(envelope)
                case .refused(let id, let code, let reason):
                    let error = ProtocolError(code, reason)
                    if code != .storageFull && code != .storageError, try store.message(id: id)?.state == "queued" {
                        try store.setState(id: id, state: "refused", reason: "\(code.rawValue): \(reason)")
                    }
                    log.warning("broker refused", ["message.id": id, "code": code.rawValue, "reason": reason])
                    events.append(.refused(id: id, error: error))
                case .deliver(let envelope):
                    events += try handleDelivery(envelope, receipts: &receiptItems)
                case .subscribed:
                    events.append(.subscribed)
                case .pong(let state):
                    events.append(.pong(state))
                case .traced(let json):
                    if let report = try? JSONDecoder().decode(TraceReport.self, from: json) { events.append(.traced(report)) }
                case .stats, .event:
                    break  // the operator stream; never sent to an agency's connection
                }
            }
        }
        // Durable now: tell the broker (one signed receipt per original sender).
        for (to, items) in receiptItems.sorted(by: { $0.key < $1.key }) {
            let receipt = Receipt(id: MessageID.generate(), from: agency, created: .now(), to: to, items: items)
            try client.send(.receipt(try Envelope.seal(receipt, with: key)))
        }
        return events
    }

    func handleAcceptance(_ envelope: Envelope) throws -> [Event] {
        guard let me = topology.agency(agency), let broker = topology.broker(me.broker),
              let brokerKey = try? PublicKey(text: broker.publicKey) else { return [] }
        guard envelope.kind == "acceptance", envelope.signerID == broker.id else {
            log.warning("unexpected acceptance", ["from": envelope.common.from])
            return []
        }
        do { try envelope.verify(with: brokerKey) } catch {
            log.error("acceptance with a bad broker signature ignored", ["message.id": envelope.id])
            return []
        }
        let acceptance = try envelope.decode(Acceptance.self)
        try store.storeEvidence(envelope)
        var events: [Event] = []
        for item in acceptance.items {
            guard let m = try store.message(id: item.id), m.direction == "out" else { continue }
            if SHA256.hash(m.header).hexString != item.sha256.lowercased() {
                log.error("acceptance names another hash", ["message.id": item.id])
                continue
            }
            if m.state == "queued" || m.state == "refused" {
                try store.setState(id: item.id, state: "accepted", acceptedAt: acceptance.created)
            }
            events.append(.accepted(id: item.id, at: acceptance.created))
        }
        return events
    }

    func handleDelivery(_ envelope: Envelope, receipts: inout [String: [Receipt.Item]]) throws -> [Event] {
        let hash = envelope.hash.hexString
        let signer = envelope.signerID
        switch envelope.kind {
        case "letter":
            if let duplicate = try self.duplicate(envelope, receiptTo: signer, receipts: &receipts) { return [duplicate] }
            let senderKeys = signingKeys(of: envelope)
            guard !senderKeys.isEmpty else {
                return [hold(envelope, receipts: &receipts)]
            }
            let letter: Letter
            do {
                letter = try envelope.decode(Letter.self)
                try envelope.verify(withAnyOf: senderKeys)
                try letter.validate()
                // Not necessarily addressed to us: a letter also reaches the holders of a
                // disposition on it. The broker routes; the signature proves the content.
            } catch {
                let reason = "\(error)"
                try store.recordRejected(envelope, reason: reason)
                receipts[signer, default: []].append(.init(id: envelope.id, sha256: hash, status: "rejected", reason: reason))
                log.error("letter rejected", ["message.id": envelope.id, "from": signer, "reason": reason])
                return [.rejected(id: envelope.id, reason: reason)]
            }
            try store.insert(envelope, direction: "in", state: "stored", subject: letter.subject, attachments: letter.attachments)
            receipts[signer, default: []].append(.init(id: envelope.id, sha256: hash, status: "stored"))
            log.info("letter stored", ["message.id": envelope.id, "from": letter.from])
            return [.received(envelope, letter)]
        case "receipt":
            // A recipient's receipt for a letter we sent; the broker is owed a receipt for it.
            if let duplicate = try self.duplicateEvidence(envelope, receipts: &receipts) { return [duplicate] }
            let recipientKeys = signingKeys(of: envelope)
            guard !recipientKeys.isEmpty else {
                return [hold(envelope, receipts: &receipts)]
            }
            do {
                try envelope.verify(withAnyOf: recipientKeys)
                let receipt = try envelope.decode(Receipt.self)
                try receipt.validate()
                try store.storeEvidence(envelope)
                var events: [Event] = []
                for item in receipt.items {
                    guard let m = try store.message(id: item.id), m.direction == "out",
                          SHA256.hash(m.header).hexString == item.sha256.lowercased() else { continue }
                    try store.recordDelivery(messageID: item.id, recipient: signer, state: item.status, reason: item.reason,
                                             receiptID: receipt.id, at: receipt.created)
                    events.append(.receipt(letterID: item.id, recipient: signer, status: item.status, reason: item.reason))
                }
                receipts["broker", default: []].append(.init(id: envelope.id, sha256: hash, status: "stored"))
                return events
            } catch {
                try store.recordRejected(envelope, reason: "\(error)")
                receipts["broker", default: []].append(.init(id: envelope.id, sha256: hash, status: "rejected", reason: "\(error)"))
                log.error("receipt rejected", ["message.id": envelope.id, "from": signer, "reason": "\(error)"])
                return [.rejected(id: envelope.id, reason: "\(error)")]
            }
        case "disposition", "status":
            return try handleTracked(envelope, receipts: &receipts)
        default:
            let reason = "kind '\(envelope.kind.prefix(32))' is not known to this node"
            receipts[signer == topology.agency(agency)?.broker ? "broker" : signer, default: []]
                .append(.init(id: envelope.id, sha256: hash, status: "rejected", reason: reason))
            return [.rejected(id: envelope.id, reason: reason)]
        }
    }

    // MARK: - Duplicates and held messages

    /// An id this node already stored: the same content is receipted again (idempotent);
    /// different content under a known id is rejected as a conflict.
    func duplicate(_ envelope: Envelope, receiptTo: String, receipts: inout [String: [Receipt.Item]]) throws -> Event? {
        guard let existing = try store.message(id: envelope.id) else { return nil }
        let hash = envelope.hash.hexString
        if SHA256.hash(existing.header) == envelope.hash {
            receipts[receiptTo, default: []].append(.init(id: envelope.id, sha256: hash, status: "stored"))
            guard !existing.received else { return .duplicate(id: envelope.id) }
            // Sent by this node to its own agency (unit to unit): now it is in the inbox too.
            try store.markReceived(id: envelope.id)
            switch envelope.kind {
            case "letter": return .received(envelope, try envelope.decode(Letter.self))
            case "disposition": return .disposition(envelope, try envelope.decode(Disposition.self))
            default: return .duplicate(id: envelope.id)
            }
        }
        let reason = "conflict: id \(envelope.id) is already stored here with different content"
        try store.recordRejected(envelope, reason: reason)
        receipts[receiptTo, default: []].append(.init(id: envelope.id, sha256: hash, status: "rejected", reason: reason))
        return .rejected(id: envelope.id, reason: reason)
    }

    func duplicateEvidence(_ envelope: Envelope, receipts: inout [String: [Receipt.Item]]) throws -> Event? {
        guard try store.db.queryOne("SELECT 1 FROM evidence WHERE id = ?", envelope.id, map: { _ in true }) != nil else { return nil }
        receipts["broker", default: []].append(.init(id: envelope.id, sha256: envelope.hash.hexString, status: "stored"))
        return .duplicate(id: envelope.id)
    }

    /// Without the signer's key the node cannot check a message: it stays at the broker
    /// (a `deferred` receipt item frees the delivery window; it comes again next session).
    func hold(_ envelope: Envelope, receipts: inout [String: [Receipt.Item]]) -> Event {
        let reason = "no publicKey for agency '\(envelope.signerID)' in \(config.topology); add it and restart subscribe"
        log.error("message held: cannot verify", ["message.id": envelope.id, "from": envelope.signerID])
        receipts["broker", default: []].append(.init(id: envelope.id, sha256: envelope.hash.hexString, status: "deferred", reason: reason))
        return .held(id: envelope.id, reason: reason)
    }
}
