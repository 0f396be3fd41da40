import Foundation

/// An operator: a directory with an operator key (`operator.key`, 0600) and `operator.json`,
/// listed under `operators` in the topology. It connects to a broker with CURVE like a node
/// (the broker's ZAP handler admits it as `operator:<id>`) and may use only STATS, WATCH,
/// TRACE and PING.
///
/// ```swift
/// let op = try OperatorClient(directory: "/var/lib/agencybus/ops", logger: log)
/// let snapshot = try op.stats(broker: nil, timeout: 10)
/// ```
/// Throws `NodeError` (not an operator directory, unknown broker, no answer, refused) and
/// `KeyError` (key file unreadable or too open).
public final class OperatorClient {
    public let directory: String
    public let config: OperatorConfig
    public let topology: Topology
    public let key: SecretKey
    public let log: Logger

    public var id: String { config.operator }

    public init(directory: String, logger: Logger) throws {
        self.directory = directory
        self.log = logger
        config = try OperatorConfig.load(directory: directory)
        topology = try Topology.load(path: config.topology)
        guard let me = topology.operator(config.operator) else {
            throw NodeError.notANode("operator '\(config.operator)' of \(directory) is not in the topology \(config.topology) (known: \(topology.operators.map(\.id).joined(separator: ", ")))")
        }
        key = try KeyFile.load(at: OperatorConfig.keyPath(in: directory))
        if me.publicKey != key.publicKey.text {
            log.warning("the topology does not list this operator's key; the broker will not admit it until it does",
                        ["operator": me.id, "node.key": key.publicKey.text])
        }
        if me.revoked == true { log.warning("this operator is revoked in the topology", ["operator": me.id]) }
    }

    /// Creates an operator directory (0700) with a new key (0600). Returns the public key to
    /// paste under `operators` in the topology. The id must already be listed there.
    public static func initialize(directory: String, id: String, topologyPath: String) throws -> PublicKey {
        let topology = try Topology.load(path: topologyPath)
        guard topology.operator(id) != nil else {
            let known = topology.operators.map(\.id)
            throw NodeError.data("operator '\(id)' is not in the topology \(topologyPath) (known: \(known.isEmpty ? "none" : known.joined(separator: ", "))); add it with: bus-broker set-topology --topology \(topologyPath) --add --operator \(id)")
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: OperatorConfig.path(in: directory)) || fm.fileExists(atPath: NodeConfig.path(in: directory)) {
            throw NodeError.usage("\(directory) is already an operator or node directory; use another directory")
        }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = SecretKey.generate()
        try KeyFile.create(key, at: OperatorConfig.keyPath(in: directory))
        let absolute = URL(fileURLWithPath: topologyPath).standardizedFileURL.path
        try OperatorConfig(operator: id, topology: absolute, created: Timestamp.now().text).write(directory: directory)
        return key.publicKey
    }

    /// The broker to talk to: `requested`, or the topology's only broker.
    public func broker(_ requested: String?) throws -> Topology.Broker {
        if let requested {
            guard let b = topology.broker(requested) else {
                throw NodeError.usage("--broker: no broker '\(requested)' in \(config.topology) (known: \(topology.brokers.map(\.id).joined(separator: ", ")))")
            }
            return b
        }
        guard topology.brokers.count == 1, let only = topology.brokers.first else {
            throw NodeError.usage("the topology lists several brokers (\(topology.brokers.map(\.id).joined(separator: ", "))); name one with --broker ID")
        }
        return only
    }

    /// A CURVE connection to `broker`.
    public func connect(_ broker: Topology.Broker) throws -> BrokerClient {
        guard !broker.publicKey.isEmpty, let brokerKey = try? PublicKey(text: broker.publicKey) else {
            throw NodeError.unavailable("broker '\(broker.id)' has no publicKey in the topology \(config.topology); ask ops for it")
        }
        return try BrokerClient(endpoint: broker.endpoint, brokerKey: brokerKey, identity: key)
    }

    /// What to say when a broker stays silent: usually the key is not (yet) admitted.
    func silence(_ broker: Topology.Broker, seconds: Double) -> String {
        "broker '\(broker.id)' at \(broker.endpoint) did not answer within \(Int(seconds.rounded(.up))) s; check that it runs and that operator '\(id)' with key \(key.publicKey.text) is under 'operators' in its topology (then reload it: kill -HUP <broker pid>)"
    }

    /// One statistics snapshot (STATS).
    /// The route of a letter, as the broker records it. Operators may trace any letter; without
    /// the topology's `content` grant the answer carries no subject and no free text.
    public func trace(id: String, broker requested: String?, timeout: Double) throws -> TraceReport {
        let broker = try broker(requested)
        return try TraceReport.request(id: id, over: try connect(broker), timeout: timeout,
                                       broker: "broker '\(broker.id)' at \(broker.endpoint)")
    }

    public func stats(broker requested: String?, timeout: Double) throws -> BrokerStatsSnapshot {
        let broker = try broker(requested)
        let client = try connect(broker)
        try client.send(.stats)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let ms = max(1, min(500, Int(deadline.timeIntervalSinceNow * 1000)))
            let answer: BrokerCommand?
            do { answer = try client.receive(timeoutMs: ms) } catch let e as ProtocolError {
                log.warning("unreadable answer from broker", ["reason": e.reason])
                continue
            }
            switch answer {
            case .stats(let json)?:
                do { return try BrokerStatsSnapshot.decode(json) } catch {
                    throw NodeError.data("the broker's STATS answer is not readable: \(error)")
                }
            case .refused(_, let code, let reason)?:
                throw NodeError.refused(ProtocolError(code, reason))
            default:
                continue
            }
        }
        throw NodeError.unavailable(silence(broker, seconds: timeout))
    }

    /// Opens an operator stream (WATCH) to `broker`.
    public func watch(broker requested: String?) throws -> OperatorStream {
        try OperatorStream(operator: self, broker: broker(requested))
    }
}
