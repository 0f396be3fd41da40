import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import AgencyBus

// Integration harness: runs the real `bus-broker` and `bus-cli` binaries in a private temp
// directory. Every wait has a timeout, so a bug fails a test instead of hanging it, and every
// child process is stopped when the harness goes away (also when a test throws).
//
// Binaries come from $AGENCYBUS_BIN, else <package root>/.build/debug (run `swift build` first).
// Set AGENCYBUS_KEEP_TEST_DIRS=1 to keep the temp directories for a post-mortem.

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a finished command did.
struct CommandResult: CustomStringConvertible {
    let arguments: [String]
    let exitCode: Int32
    let stdout: String
    let stderr: String
    let seconds: Double
    let timedOut: Bool

    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// stdout as one JSON object per line.
    func json() throws -> [[String: Any]] { try parseJSONLines(stdout) }

    var description: String {
        "`\(arguments.joined(separator: " "))` → exit \(exitCode)\(timedOut ? " (TIMED OUT)" : "") in \(String(format: "%.2f", seconds)) s\n"
            + "stdout:\n\(stdout)\nstderr:\n\(stderr)"
    }
}

func parseJSONLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw HarnessError("not a JSON object: \(line)")
        }
        return object
    }
}

/// One child process; stdout and stderr go to files so nothing can block on a full pipe.
final class ChildProcess {
    let name: String
    let arguments: [String]
    let process = Process()
    let stdoutPath: String
    let stderrPath: String
    let started = Date()

    init(executable: URL, arguments: [String], logDirectory: URL, name: String) throws {
        self.name = name
        self.arguments = [executable.lastPathComponent] + arguments
        stdoutPath = logDirectory.appendingPathComponent("\(name).stdout").path
        stderrPath = logDirectory.appendingPathComponent("\(name).stderr").path
        let fm = FileManager.default
        guard fm.createFile(atPath: stdoutPath, contents: nil), fm.createFile(atPath: stderrPath, contents: nil),
              let out = FileHandle(forWritingAtPath: stdoutPath), let err = FileHandle(forWritingAtPath: stderrPath) else {
            throw HarnessError("cannot create log files in \(logDirectory.path)")
        }
        defer { try? out.close(); try? err.close() }
        var environment = ProcessInfo.processInfo.environment
        environment["AGENCYBUS_NODE"] = nil
        environment["NO_COLOR"] = "1"
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = logDirectory
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try Self.withSignalsUnblocked { try process.run() }
    }

    /// The test runner's threads block SIGINT/SIGTERM/SIGHUP, and a spawned child inherits the
    /// caller's signal mask, so a child would never see our SIGTERM (it stays pending) and
    /// could only be SIGKILLed. Spawn with those signals unblocked, as a shell would.
    private static func withSignalsUnblocked<T>(_ body: () throws -> T) rethrows -> T {
        var unblock = sigset_t(), previous = sigset_t()
        sigemptyset(&unblock)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Complete lines written to stdout so far.
    var lines: [String] {
        let text = stdout
        guard let lastNewline = text.lastIndex(of: "\n") else { return [] }
        return text[..<lastNewline].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Waits for the process to exit; false on timeout.
    func waitForExit(timeout: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline { return false }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return true
    }

    /// Waits until stdout has at least `count` complete lines; throws on timeout or early exit.
    @discardableResult
    func waitForLines(_ count: Int, timeout: Double) async throws -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let now = lines
            if now.count >= count { return now }
            if !process.isRunning {
                // One last read: the lines may have been written just before it exited.
                if lines.count >= count { return lines }
                throw HarnessError("\(name) exited (\(process.terminationStatus)) with \(now.count) of \(count) lines\nstdout:\n\(stdout)\nstderr:\n\(stderr)")
            }
            if Date() >= deadline {
                throw HarnessError("\(name): \(now.count) of \(count) lines after \(timeout) s\nstdout:\n\(stdout)\nstderr:\n\(stderr)")
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace` seconds.
    func stop(grace: Double = 3) async {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        if await waitForExit(timeout: grace) { return }
        kill(pid, SIGKILL)
        _ = await waitForExit(timeout: 5)
    }

    /// SIGKILL now (a crash), and wait for it to be gone.
    func crash() async {
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        _ = await waitForExit(timeout: 5)
    }

    /// For teardown outside async code: SIGTERM, a short grace, then SIGKILL.
    func forceStop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        for _ in 0..<50 where process.isRunning { usleep(20_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            for _ in 0..<100 where process.isRunning { usleep(20_000) }
        }
    }
}

/// A bus in a temp dir: a topology copied from topology/demo.json, a broker key and data
/// dir, and one initialised node per agency, all keys pasted into the topology.
final class Harness {
    static let packageRoot = Fixtures.packageRoot

    static var binDirectory: URL {
        if let bin = ProcessInfo.processInfo.environment["AGENCYBUS_BIN"], !bin.isEmpty {
            return URL(fileURLWithPath: bin, isDirectory: true)
        }
        return packageRoot.appendingPathComponent(".build/debug", isDirectory: true)
    }

    static func executable(_ name: String) throws -> URL {
        let url = binDirectory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw HarnessError("\(url.path) is missing: run `swift build` first (or set AGENCYBUS_BIN)")
        }
        return url
    }

    let directory: TemporaryDirectory
    let logs: URL
    let topologyPath: String
    let brokerData: String
    let brokerID = "nasional"
    /// The broker endpoint the topology lists (what nodes connect to).
    private(set) var endpoint: String
    private(set) var broker: ChildProcess?
    private var children: [ChildProcess] = []
    private var sequence = 0

    /// Sets up the bus; the broker is started too unless `startBroker` is false.
    init(agencies: [String], startBroker: Bool = true) async throws {
        directory = try TemporaryDirectory("agencybus-it")
        logs = directory.url.appendingPathComponent("logs", isDirectory: true)
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        topologyPath = directory.file("topology.json")
        brokerData = directory.file("broker")
        try FileManager.default.copyItem(atPath: Fixtures.demoTopologyPath, toPath: topologyPath)
        endpoint = "tcp://127.0.0.1:7450"

        let keygen = try await brokerTool(["keygen", "--data", brokerData])
        guard keygen.exitCode == 0, let brokerKey = keygen.lines.last else { throw HarnessError("broker keygen failed: \(keygen)") }
        try await setTopology(["--broker", brokerID, "--public-key", brokerKey])
        for agency in agencies {
            let made = try await cli(["init", "--node", node(agency), "--agency", agency, "--topology", topologyPath])
            guard made.exitCode == 0, let key = made.lines.last, key.hasPrefix("ed25519:") else {
                throw HarnessError("bus-cli init for \(agency) failed: \(made)")
            }
            try await setTopology(["--agency", agency, "--public-key", key])
        }
        if startBroker { try await self.startBroker() }
    }

    deinit { shutdown() }

    /// The node directory of `agency`.
    func node(_ agency: String) -> String { directory.file("node-\(agency)") }

    /// A log file name: numbered, and safe whatever the label holds (a label can be a path).
    private func nextName(_ base: String) -> String {
        sequence += 1
        let safe = String(base.prefix(60).map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
        return String(format: "%03d-", sequence) + safe
    }

    // MARK: - Commands

    /// Runs a command to completion (or kills it after `timeout` seconds).
    func run(_ tool: String, _ arguments: [String], timeout: Double = 20) async throws -> CommandResult {
        let label = arguments.first { !$0.hasPrefix("-") } ?? "run"
        let child = try ChildProcess(executable: Self.executable(tool), arguments: arguments, logDirectory: logs,
                                     name: nextName("\(tool)-\(label)"))
        children.append(child)
        var timedOut = false
        if !(await child.waitForExit(timeout: timeout)) {
            timedOut = true
            await child.stop(grace: 1)
        }
        let status: Int32 = child.process.isRunning ? -1 : child.process.terminationStatus
        return CommandResult(arguments: child.arguments, exitCode: timedOut ? -1 : status, stdout: child.stdout,
                             stderr: child.stderr, seconds: Date().timeIntervalSince(child.started), timedOut: timedOut)
    }

    func cli(_ arguments: [String], timeout: Double = 20) async throws -> CommandResult {
        try await run("bus-cli", arguments, timeout: timeout)
    }

    func brokerTool(_ arguments: [String], timeout: Double = 20) async throws -> CommandResult {
        try await run("bus-broker", arguments, timeout: timeout)
    }

    /// Starts a long-running bus-cli command (subscribe); stop it with `stop()`.
    func startCLI(_ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(executable: Self.executable("bus-cli"), arguments: arguments, logDirectory: logs,
                                     name: nextName("bus-cli-\(arguments.first ?? "run")"))
        children.append(child)
        return child
    }

    /// `bus-cli subscribe --json` for `agency`, running until stopped.
    func subscribe(_ agency: String) throws -> ChildProcess {
        try startCLI(["subscribe", "--node", node(agency), "--json"])
    }

    /// `bus-cli send` with defaults for what a test does not care about.
    func send(from: String, to: String, subject: String, body: String = "Dengan hormat.", extra: [String] = [],
              timeout: Double = 10) async throws -> CommandResult {
        try await cli(["send", "--node", node(from), "--to", to, "--subject", subject, "--body", body,
                       "--json", "--timeout", String(Int(timeout))] + extra, timeout: timeout + 10)
    }

    func setTopology(_ arguments: [String]) async throws {
        let r = try await brokerTool(["set-topology", "--topology", topologyPath] + arguments)
        guard r.exitCode == 0 else { throw HarnessError("set-topology failed: \(r)") }
    }

    /// Points the topology's broker entry at `endpoint` (nodes read it at their next start).
    func setEndpoint(_ endpoint: String) async throws {
        try await setTopology(["--broker", brokerID, "--endpoint", endpoint])
        self.endpoint = endpoint
    }

    // MARK: - Broker

    /// Starts the broker and waits for its ready file. Without `bind` it listens on a port
    /// the kernel picks, and the topology is pointed at it before any node starts.
    func startBroker(bind: String? = nil, timeout: Double = 10, extraArguments: [String] = []) async throws {
        if let broker, broker.isRunning { throw HarnessError("the broker is already running") }
        let readyFile = directory.file("broker.ready")
        try? FileManager.default.removeItem(atPath: readyFile)
        let child = try ChildProcess(
            executable: Self.executable("bus-broker"),
            arguments: ["--topology", topologyPath, "--broker", brokerID, "--data", brokerData,
                        "--bind", bind ?? "tcp://127.0.0.1:*", "--ready-file", readyFile, "--log-level", "debug"] + extraArguments,
            logDirectory: logs, name: nextName("bus-broker"))
        children.append(child)
        broker = child
        let deadline = Date().addingTimeInterval(timeout)
        var bound: String?
        while bound == nil {
            if let text = try? String(contentsOfFile: readyFile, encoding: .utf8),
               case let line = text.trimmingCharacters(in: .whitespacesAndNewlines), !line.isEmpty {
                bound = line
                break
            }
            if !child.isRunning {
                throw HarnessError("bus-broker exited (\(child.process.terminationStatus)) before it was ready:\n\(child.stderr)")
            }
            if Date() >= deadline {
                await child.stop()
                throw HarnessError("bus-broker not ready after \(timeout) s:\n\(child.stderr)")
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        if let bound, bound != endpoint { try await setEndpoint(bound) }
    }

    /// SIGKILL: the broker dies mid-whatever, as in a crash or power cut of the process.
    func crashBroker() async { await broker?.crash() }

    /// SIGTERM: an orderly stop.
    func stopBroker() async { await broker?.stop() }

    /// Everything the broker(s) logged so far, for failure messages.
    var brokerLog: String {
        children.filter { $0.name.contains("bus-broker") && !$0.arguments.contains("keygen") && !$0.arguments.contains("set-topology") }
            .map { "== \($0.name)\n\($0.stderr)" }.joined(separator: "\n")
    }

    /// Stops every child still running. Safe to call more than once.
    func shutdown() {
        for child in children.reversed() { child.forceStop() }
        children.removeAll()
        broker = nil
    }

    // MARK: - Helpers

    /// A TCP port nothing listens on right now (bind port 0, read it back, close).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw HarnessError("bind: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw HarnessError("getsockname: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Opens a node's inbox.sqlite from the test process (between CLI runs).
    func nodeStore(_ agency: String) throws -> NodeStore {
        try NodeStore(path: NodeConfig.inboxPath(in: node(agency)))
    }
}
