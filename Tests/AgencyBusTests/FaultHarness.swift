import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import AgencyBus

// Helpers for the fault-injection scenarios (FaultTests.swift): the scale switch, a seeded
// random source, and a bus (Harness) with in-process senders, `bus-cli subscribe` receivers,
// broker restarts on the same port, and the end-state checks.

/// How big the fault scenarios run: `AGENCYBUS_FAULTS=full` (what `make test-faults` sets)
/// gives the figures issue 7 asks for; otherwise the same scenarios run shortened so that
/// `make test` stays quick.
enum FaultScale {
    static let isFull = ProcessInfo.processInfo.environment["AGENCYBUS_FAULTS"] == "full"
    static var label: String { isFull ? "full" : "shortened" }
    static func pick<T>(full: T, short: T) -> T { isFull ? full : short }

    /// One seed per test run, printed, so a failing run can be replayed with
    /// AGENCYBUS_FAULT_SEED=<seed>.
    static let seed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["AGENCYBUS_FAULT_SEED"], let v = UInt64(text) { return v }
        return UInt64.random(in: 1...UInt64(UInt32.max))
    }()
}

/// SplitMix64: a small deterministic generator, so kill points are reproducible from a seed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A bus for one fault scenario: the Harness (real broker, real `bus-cli`), in-process senders
/// and `bus-cli subscribe` receivers, with the operations the scenarios need.
final class FaultHarness {
    let scenario: String
    let h: Harness
    let senderAgencies: [String]
    let receiverAgencies: [String]
    private(set) var senders: [FaultSender] = []
    private(set) var subscribers: [String: ChildProcess] = [:]
    private var extraChildren: [ChildProcess] = []
    var random: SeededRandom
    /// The loopback endpoint the broker keeps across restarts (nodes reconnect to it by themselves).
    private(set) var brokerBind = ""

    init(scenario: String, senders: [String], receivers: [String], startBroker: Bool = true) async throws {
        self.scenario = scenario
        senderAgencies = senders
        receiverAgencies = receivers
        // Each scenario draws from its own stream of the run's seed.
        random = SeededRandom(seed: FaultScale.seed &+ UInt64(scenario.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xffff_ffff }))
        h = try await Harness(agencies: senders + receivers, startBroker: false)
        if startBroker { try await self.startBroker() }
    }

    deinit { shutdown() }

    func shutdown() {
        for s in senders { s.stopNow() }
        for c in extraChildren { c.forceStop() }
        h.shutdown()
    }

    // MARK: - Broker

    /// Starts the broker: the first time on a port the kernel picks, afterwards on that same
    /// port, as a restarted production broker would.
    func startBroker() async throws {
        if brokerBind.isEmpty {
            try await h.startBroker()
            brokerBind = h.endpoint
        } else {
            try await h.startBroker(bind: brokerBind)
        }
    }

    var brokerPID: Int32? { h.broker?.isRunning == true ? h.broker?.pid : nil }

    /// SIGKILL the broker, then check at once (broker dead, store still) that everything a
    /// sender holds as accepted is in the broker's store, nothing is duplicated in an inbox
    /// and nothing receipted is missing from one.
    func crashBrokerAndAudit() async throws -> DeliveryAudit {
        await h.crashBroker()
        let audit = try self.audit(drained: false)
        #expect(audit.problems.isEmpty, "[\(scenario)] right after kill -9 of the broker: \(audit.problems.prefix(10))\n\(h.brokerLog.suffix(4000))")
        return audit
    }

    // MARK: - Senders and receivers

    /// Creates (not yet started) one in-process sender per sending agency.
    func makeSenders(recipients: [[String]], bodyBytes: Int = 600, answerTimeout: Double = 4, netns: String? = nil) throws {
        senders = try senderAgencies.map {
            try FaultSender(agency: $0, directory: h.node($0), recipients: recipients, bodyBytes: bodyBytes,
                            answerTimeout: answerTimeout, netns: netns)
        }
    }

    /// Lets every sender compose up to `total` letters in all, split evenly.
    func allow(total: Int) {
        for (i, s) in senders.enumerated() {
            s.allow(total: total / senders.count + (i < total % senders.count ? 1 : 0))
        }
    }

    var acceptedTotal: Int { senders.reduce(0) { $0 + $1.snapshot.accepted } }
    var composedTotal: Int { senders.reduce(0) { $0 + $1.snapshot.composed } }

    func waitUntilAllAccepted(timeout: Double) async throws {
        for s in senders { try await s.waitUntilAllAccepted(timeout: timeout) }
    }

    /// Starts `bus-cli subscribe --json` for `agency`, optionally inside a network namespace.
    @discardableResult
    func subscribe(_ agency: String, netns: String? = nil) throws -> ChildProcess {
        if let old = subscribers[agency], old.isRunning { throw HarnessError("\(agency) is already subscribed") }
        let child: ChildProcess
        if let netns {
            child = try ChildProcess(executable: URL(fileURLWithPath: try WANLink.tool("ip")),
                                     arguments: ["netns", "exec", netns, try Harness.executable("bus-cli").path,
                                                 "subscribe", "--node", h.node(agency), "--json"],
                                     logDirectory: h.logs, name: "subscribe-\(agency)-\(extraChildren.count)")
            extraChildren.append(child)
        } else {
            child = try h.subscribe(agency)
        }
        subscribers[agency] = child
        return child
    }

    // MARK: - Checks

    /// The library's audit (what `bus-cli verify-delivery` prints), over every node of the bus.
    func audit(drained: Bool) throws -> DeliveryAudit {
        try DeliveryAudit.run(brokerStore: h.brokerData + "/queue.sqlite",
                              nodeDirectories: (senderAgencies + receiverAgencies).map { h.node($0) }, drained: drained)
    }

    /// Runs `bus-cli verify-delivery` (the operators' checker) and returns its JSON summary.
    func verifyDelivery(drained: Bool) async throws -> (summary: [String: Any], result: CommandResult) {
        var args = ["verify-delivery", "--broker-data", h.brokerData]
        for a in senderAgencies + receiverAgencies { args += ["--node", h.node(a)] }
        if drained { args.append("--drained") }
        let result = try await h.cli(args, timeout: 120)
        let summary = try #require(try result.json().first, "\(result)")
        return (summary, result)
    }

    /// Letters in `agency`'s inbox.
    func inboxCount(_ agency: String) throws -> Int {
        let db = try SQLiteConnection(path: NodeConfig.inboxPath(in: h.node(agency)))
        return Int(try db.queryOne("SELECT COUNT(*) FROM messages WHERE received_at IS NOT NULL AND kind = 'letter'") { $0.int(0) } ?? 0)
    }

    /// Ids with more than one inbox row in `agency`'s inbox.sqlite (counted directly, not
    /// trusting the audit).
    func duplicateInboxRows(_ agency: String) throws -> [String] {
        let db = try SQLiteConnection(path: NodeConfig.inboxPath(in: h.node(agency)))
        return try db.query("SELECT id, COUNT(*) FROM messages WHERE received_at IS NOT NULL GROUP BY id HAVING COUNT(*) > 1") {
            "\($0.text(0)) ×\($0.int(1))"
        }
    }

    /// Compares the order of letters in `recipient`'s inbox (its insert order) with the
    /// broker's acceptance order of the deliveries to that agency. Returns the number compared
    /// and a description of the first difference (nil when identical).
    func orderCheck(recipient: String) throws -> (compared: Int, difference: String?) {
        let broker = try SQLiteConnection(path: h.brokerData + "/queue.sqlite")
        let accepted = try broker.query("""
            SELECT m.id FROM deliveries d JOIN messages m ON m.seq = d.message_seq
            WHERE d.recipient = ? AND m.kind = 'letter' ORDER BY d.seq
            """, recipient) { $0.text(0) }
        let node = try SQLiteConnection(path: NodeConfig.inboxPath(in: h.node(recipient)))
        let received = try node.query("SELECT id FROM messages WHERE received_at IS NOT NULL AND kind = 'letter' ORDER BY seq") { $0.text(0) }
        if accepted == received { return (received.count, nil) }
        let i = zip(accepted, received).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(accepted.count, received.count)
        return (min(accepted.count, received.count),
                "position \(i): broker order has \(i < accepted.count ? accepted[i] : "nothing"), inbox has \(i < received.count ? received[i] : "nothing") (\(accepted.count) accepted, \(received.count) received)")
    }

    /// Waits until nothing is pending at the broker for the receivers and every sender's
    /// outbox is empty; polls the audit (no wall-clock assertion, only a timeout).
    func waitUntilDrained(timeout: Double) async throws -> DeliveryAudit {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let audit = try self.audit(drained: false)
            if audit.pending == 0 && audit.queued == 0 && audit.problems.isEmpty { return audit }
            if Date() >= deadline {
                throw HarnessError("[\(scenario)] not drained after \(Int(timeout)) s: pending \(audit.pending), queued \(audit.queued), problems \(audit.problems.prefix(5)); inboxes \(receiverAgencies.map { "\($0)=\((try? inboxCount($0)) ?? -1)" })\nsubscribers:\n\(subscribers.values.map { "\($0.name): \($0.stderr.suffix(1500))" }.joined(separator: "\n"))")
            }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
    }

    /// The final check every scenario ends with: `bus-cli verify-delivery --drained` exits 0
    /// with missing = duplicated = lost = 0, every inbox row unique, and each receiver's inbox
    /// in broker acceptance order. Returns the verifier's summary for the report.
    @discardableResult
    func finalCheck(expectedDeliveries: Int? = nil) async throws -> [String: Any] {
        let (summary, result) = try await verifyDelivery(drained: true)
        #expect(result.exitCode == 0, "[\(scenario)] verify-delivery: \(result)")
        #expect(summary["missing"] as? Int == 0 && summary["duplicated"] as? Int == 0 && summary["lost"] as? Int == 0,
                "[\(scenario)] \(summary)")
        if let expectedDeliveries {
            #expect(summary["delivered"] as? Int == expectedDeliveries, "[\(scenario)] \(summary)")
        }
        for r in receiverAgencies {
            let dups = try duplicateInboxRows(r)
            #expect(dups.isEmpty, "[\(scenario)] \(r) holds ids more than once: \(dups.prefix(10))")
            let order = try orderCheck(recipient: r)
            #expect(order.difference == nil, "[\(scenario)] \(r) inbox out of acceptance order: \(order.difference ?? "")")
        }
        return summary
    }

    /// Deliveries the letters composed so far should make (one per recipient agency).
    func expectedDeliveries(recipients: [[String]]) -> Int {
        senders.reduce(0) { sum, s in
            let n = s.snapshot.composed
            return sum + (0..<n).reduce(0) { $0 + Set(recipients[$1 % recipients.count].map { $0.split(separator: "/")[0] }).count }
        }
    }

    /// Peak and current resident memory of a process, in KiB (VmHWM / VmRSS of /proc/PID/status).
    static func memory(pid: Int32) -> (peakKiB: Int, currentKiB: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1])
        }
        guard let hwm = field("VmHWM"), let rss = field("VmRSS") else { return nil }
        return (hwm, rss)
    }

    /// One line per scenario for the test output: what ran and the end-state counts.
    func report(_ facts: KeyValuePairs<String, Any>, summary: [String: Any]) {
        let ran = facts.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let end = ["accepted", "delivered", "pending", "queued", "missing", "duplicated", "lost"]
            .map { "\($0)=\(summary[$0] ?? "?")" }.joined(separator: " ")
        print("FAULTS [\(scenario)] scale=\(FaultScale.label) seed=\(FaultScale.seed) \(ran) | end: \(end)")
    }
}
