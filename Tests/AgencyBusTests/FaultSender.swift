import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import AgencyBus

/// A sending agency driven in-process with the library's real node code — what `bus-cli send`
/// does (`compose` → outbox, `connect`, `flushOutbox`, `handle` for ACCEPTED/REFUSED) — but for
/// thousands of letters without a process per letter.
///
/// It runs on its own thread (blocking ZeroMQ polls do not belong on Swift's cooperative pool,
/// and the node, its store and its socket stay on that one owner thread). It composes letters
/// up to the budget the test allows, keeps at most `maxOutstanding` composed-but-unanswered,
/// and behaves like a careful client after faults: on `reconnect()` (the test restarted the
/// broker) or when the broker has not answered for `answerTimeout` seconds it opens a new
/// connection and resubmits its whole outbox (idempotent at the broker); after a
/// `storage-*` refusal it retries the outbox with a capped backoff.
final class FaultSender: @unchecked Sendable {
    // @unchecked Sendable: the node, its store and its BrokerClient are touched only on
    // `thread`; everything the test reads or sets goes through `lock`.

    struct Progress {
        var composed = 0
        /// Distinct letters the broker accepted (a signed acceptance names them).
        var accepted = 0
        var storageRefusals = 0
        /// The last storage refusal, as "code: reason" (what the clerk would read).
        var lastStorageRefusal: String?
        var otherRefusals: [String] = []
        var reconnects = 0
        var failure: String?
        var running = false
        var finished = false
    }

    let agency: String
    let directory: String
    let name: String
    private let recipients: [[Address]]
    private let bodyBytes: Int
    private let maxOutstanding: Int
    private let answerTimeout: Double
    private let netns: String?

    private let lock = NSLock()
    private var progress = Progress()
    private var budget = 0
    private var generation = 0
    private var stopRequested = false
    private var acceptedIDs = Set<String>()
    private var composedIDs: [String] = []

    /// - Parameters:
    ///   - recipients: recipient lists, used in turn, letter after letter.
    ///   - netns: a network namespace the sender's thread joins before it opens any socket
    ///     (the WAN scenario); nil stays in the test's namespace.
    init(agency: String, directory: String, recipients: [[String]], bodyBytes: Int = 600,
         maxOutstanding: Int = 64, answerTimeout: Double = 4, netns: String? = nil) throws {
        self.agency = agency
        self.directory = directory
        self.name = "sender-\(agency)"
        self.recipients = try recipients.map { try $0.map { try Address(parsing: $0) } }
        self.bodyBytes = bodyBytes
        self.maxOutstanding = maxOutstanding
        self.answerTimeout = answerTimeout
        self.netns = netns
    }

    // MARK: - Control (any thread)

    func start() {
        locked { progress.running = true }
        let thread = Thread { [self] in
            do { try self.run() } catch {
                self.locked { self.progress.failure = "\(self.name): \(error)" }
            }
            self.locked { self.progress.finished = true; self.progress.running = false }
        }
        thread.name = name
        thread.start()
    }

    /// Lets the sender compose letters until `total` in all.
    func allow(total: Int) { locked { budget = max(budget, total) } }

    /// Composes nothing more than what it has composed already.
    func stopComposing() { locked { budget = progress.composed } }

    /// The broker was restarted: open a new connection and resubmit the outbox.
    func reconnect() { locked { generation += 1 } }

    var snapshot: Progress { locked { progress } }
    var budgetTotal: Int { locked { budget } }
    /// Ids composed so far, in composition order.
    var composed: [String] { locked { composedIDs } }

    /// Waits until every allowed letter is composed and accepted.
    func waitUntilAllAccepted(timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let (p, b) = locked { (progress, budget) }
            if let failure = p.failure { throw HarnessError(failure) }
            if p.composed >= b && p.accepted >= p.composed { return }
            if Date() >= deadline {
                throw HarnessError("\(name): \(p.accepted) of \(max(b, p.composed)) letters accepted (\(p.composed) composed) after \(Int(timeout)) s")
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
    }

    /// Waits until `total` letters are composed (accepted or not).
    func waitUntilComposed(_ total: Int, timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let p = snapshot
            if let failure = p.failure { throw HarnessError(failure) }
            if p.composed >= total { return }
            if Date() >= deadline { throw HarnessError("\(name): \(p.composed) of \(total) letters composed after \(Int(timeout)) s") }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    /// Stops the thread and waits for it (it checks at least every 200 ms).
    func stop() async {
        locked { stopRequested = true }
        let deadline = Date().addingTimeInterval(10)
        while locked({ progress.running }) && Date() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// For `defer` in tests: stop without awaiting.
    func stopNow() {
        locked { stopRequested = true }
        for _ in 0..<250 where locked({ progress.running }) { usleep(20_000) }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: - The owner thread

    private func run() throws {
        if let netns { try Self.joinNetworkNamespace(netns) }
        let node = try AgencyNode(directory: directory, logger: Logger(label: name, minimum: .error))
        var client = try node.connect()
        var seenGeneration = locked { generation }
        var outstanding = Set<String>()
        var lastAnswer = Date()
        var retryAt: Date?
        var storageBackoff = 0.5
        try node.flushOutbox(client)  // anything left from an earlier run

        while !locked({ stopRequested }) {
            let now = Date()
            let (wanted, currentGeneration) = locked { (budget - progress.composed, generation) }
            // New connection: after a broker restart, when the broker has gone quiet on letters
            // we wait for, or when a storage refusal's backoff is over.
            let silent = !outstanding.isEmpty && now.timeIntervalSince(lastAnswer) > answerTimeout
            let retryDue = retryAt.map { now >= $0 } ?? false
            if currentGeneration != seenGeneration || silent || retryDue {
                if currentGeneration != seenGeneration || silent {
                    client = try node.connect()
                    locked { progress.reconnects += 1 }
                }
                seenGeneration = currentGeneration
                retryAt = nil
                outstanding.formUnion(try node.flushOutbox(client))
                lastAnswer = now
            }
            // Compose a few more, as clerks would, and submit them at once.
            if wanted > 0 && outstanding.count < maxOutstanding {
                let n = min(wanted, 16, maxOutstanding - outstanding.count)
                let start = locked { progress.composed }
                let drafts = (0..<n).map { i -> AgencyNode.Draft in
                    let k = start + i
                    var d = AgencyNode.Draft(to: recipients[k % recipients.count],
                                             subject: "Uji ketahanan \(agency) #\(k)",
                                             body: Self.body(bytes: bodyBytes, seed: k))
                    d.number = "UJI/\(k)/\(agency.prefix(12))"
                    return d
                }
                let envelopes = try node.compose(batch: drafts)
                locked {
                    progress.composed += envelopes.count
                    composedIDs.append(contentsOf: envelopes.map(\.id))
                }
                if outstanding.isEmpty { lastAnswer = now }
                for e in envelopes {
                    try client.send(.submit(e))
                    outstanding.insert(e.id)
                }
            }
            // Read what the broker answered.
            let idle = wanted <= 0 || outstanding.count >= maxOutstanding
            var batch: [BrokerCommand] = []
            do {
                if let first = try client.receive(timeoutMs: idle ? 100 : 0) {
                    batch.append(first)
                    while batch.count < 256, let next = try client.receive(timeoutMs: 0) { batch.append(next) }
                }
            } catch is ProtocolError {
                continue
            }
            if batch.isEmpty { continue }
            lastAnswer = Date()
            for event in try node.handle(batch, client: client) {
                switch event {
                case .accepted(let id, _):
                    outstanding.remove(id)
                    locked {
                        if acceptedIDs.insert(id).inserted { progress.accepted += 1 }
                    }
                case .refused(let id, let error):
                    outstanding.remove(id)
                    if error.code == .storageFull || error.code == .storageError {
                        locked {
                            progress.storageRefusals += 1
                            progress.lastStorageRefusal = "\(error.code.rawValue): \(error.reason)"
                        }
                        if retryAt == nil { retryAt = Date().addingTimeInterval(storageBackoff) }
                        storageBackoff = min(storageBackoff * 2, 4)
                    } else {
                        locked { progress.otherRefusals.append("\(id): \(error.code.rawValue) \(error.reason)") }
                    }
                default:
                    break
                }
            }
            if retryAt == nil { storageBackoff = 0.5 }
        }
    }

    static func body(bytes: Int, seed: Int) -> String {
        let line = "Dengan hormat, bersama ini kami sampaikan surat uji ketahanan nomor \(seed). "
        var text = ""
        while text.utf8.count < bytes { text += line }
        return text
    }

    /// Moves the calling thread (only) into a named network namespace: sockets it and the
    /// threads it starts open afterwards (libzmq's I/O threads) live there.
    static func joinNetworkNamespace(_ name: String) throws {
        let fd = open("/var/run/netns/\(name)", O_RDONLY)
        guard fd >= 0 else { throw HarnessError("open /var/run/netns/\(name): errno \(errno)") }
        defer { close(fd) }
        // setns(2) is not in Swift's Glibc overlay; look it up (it is in every glibc since 2.14).
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else {
            throw HarnessError("setns is not available")
        }
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        guard setns(fd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else {
            throw HarnessError("setns(\(name)): errno \(errno)")
        }
    }
}
