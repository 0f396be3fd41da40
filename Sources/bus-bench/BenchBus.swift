import AgencyBus
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One bus for one scenario, in its own directory: a topology with `agencies` agencies, a
/// broker key, one initialised node directory per agency (the library's `AgencyNode.initialize`,
/// what `bus-cli init` does), and the real `bus-broker` process.
final class BenchBus {
    static let brokerID = "nasional"
    let directory: String
    let topologyPath: String
    let brokerData: String
    let agencies: [String]
    let brokerKey: SecretKey
    private var keys: [String: String] = [:]
    private(set) var endpoint = "tcp://127.0.0.1:1"
    private(set) var broker: Process?
    let binDirectory: String

    init(root: String, name: String, agencies: [String], binDirectory: String, initNodes: Bool = true) throws {
        directory = root + "/" + name
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        topologyPath = directory + "/topology.json"
        brokerData = directory + "/broker"
        self.agencies = agencies
        self.binDirectory = binDirectory
        try FileManager.default.createDirectory(atPath: brokerData, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        brokerKey = SecretKey.generate()
        try KeyFile.create(brokerKey, at: BrokerConfig.keyPath(dataDirectory: brokerData))
        try writeTopology()
        if initNodes {
            for a in agencies {
                keys[a] = try AgencyNode.initialize(directory: node(a), agency: a, topologyPath: topologyPath).text
            }
            try writeTopology()
        }
    }

    func node(_ agency: String) -> String { directory + "/node-" + agency }

    func writeTopology() throws {
        let brokers: [[String: Any]] = [["id": Self.brokerID, "endpoint": endpoint, "publicKey": brokerKey.publicKey.text]]
        let list: [[String: Any]] = agencies.map {
            ["id": $0, "name": "Instansi \($0)", "broker": Self.brokerID, "publicKey": keys[$0] ?? "",
             "timeZone": "Asia/Jakarta", "units": [["id": "tu", "name": "Tata Usaha"]]]
        }
        let data = try JSONSerialization.data(withJSONObject: ["brokers": brokers, "agencies": list, "operators": []],
                                              options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: topologyPath), options: .atomic)
    }

    /// Starts `bus-broker` (log level warning, stderr to a file) and waits for its ready file.
    /// With `port` it binds there (restart measurements need the port before the process
    /// exists); otherwise on a port the kernel picks. Rewrites the topology's endpoint, so
    /// nodes opened afterwards connect to it. Returns the spawn time (monotonic seconds).
    @discardableResult
    func startBroker(port: Int? = nil, waitReady: Bool = true) throws -> Double {
        let ready = directory + "/broker.ready"
        try? FileManager.default.removeItem(atPath: ready)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDirectory + "/bus-broker")
        p.arguments = ["--topology", topologyPath, "--broker", Self.brokerID, "--data", brokerData,
                       "--bind", port.map { "tcp://127.0.0.1:\($0)" } ?? "tcp://127.0.0.1:*",
                       "--ready-file", ready, "--log-level", "warning"]
        let log = directory + "/broker.log"
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = FileHandle(forWritingAtPath: log)
        handle?.seekToEndOfFile()
        p.standardError = handle
        p.standardOutput = handle
        p.standardInput = FileHandle.nullDevice
        if let port {
            endpoint = "tcp://127.0.0.1:\(port)"
            try writeTopology()
        }
        let spawned = now()
        try p.run()
        broker = p
        guard waitReady else { return spawned }
        let deadline = now() + 60
        while true {
            if let text = try? String(contentsOfFile: ready, encoding: .utf8),
               case let line = text.trimmingCharacters(in: .whitespacesAndNewlines), !line.isEmpty {
                if line != endpoint { endpoint = line; try writeTopology() }
                break
            }
            if !p.isRunning { throw BenchFailure("bus-broker exited (\(p.terminationStatus)) before it was ready; see \(log)") }
            if now() > deadline { throw BenchFailure("bus-broker not ready after 60 s; see \(log)") }
            usleep(2_000)
        }
        return spawned
    }

    /// Points the topology at a fixed port before any node opens it (restart measurements).
    func setEndpoint(port: Int) throws {
        endpoint = "tcp://127.0.0.1:\(port)"
        try writeTopology()
    }

    var brokerPID: Int32 { broker?.processIdentifier ?? 0 }

    /// SIGTERM and wait (SIGKILL after 10 s).
    func stopBroker() {
        guard let p = broker else { return }
        if p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            let deadline = now() + 10
            while p.isRunning && now() < deadline { usleep(5_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        }
        broker = nil
    }

    /// Stops the broker and deletes the directory (big scenarios leave gigabytes).
    func remove(keep: Bool) {
        stopBroker()
        if !keep { try? FileManager.default.removeItem(atPath: directory) }
    }
}
