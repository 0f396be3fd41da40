import AgencyBus
import Foundation

/// A sending agency driven in-process with the library's real node code — what `bus-cli send`
/// and `bus-cli subscribe` do (`compose` → durable outbox, SUBMIT, `handle` for the signed
/// acceptance, and the recipients' signed receipts that come back as deliveries) — at load.
/// One owner thread holds the node, its store and its connection.
final class BenchSender: @unchecked Sendable {
    // @unchecked Sendable: the node and its client are touched only on the worker thread;
    // what other threads read goes through `state` (a lock).
    struct Plan {
        var recipients: [String]
        var total: Int
        var bodyBytes = 2048
        var attachment: URL?
        /// Letters composed per outbox transaction.
        var batch = 64
        /// Submitted but not yet accepted, at most.
        var maxOutstanding = 1024
        /// Letters per second (one per compose) or nil for as fast as it goes.
        var rate: Double?
        /// Wait for this many receipt items (recipient × letter) before finishing.
        var expectReceipts: Int
        var recordSubmitTimes = false
    }

    struct State {
        var composed = 0
        var accepted = 0
        var receipts = 0
        var firstSubmit: Double?
        var lastAccepted: Double?
        var lastReceipt: Double?
        var submitTimes: [String: Double] = [:]
        var refusals: [String] = []
        var stop = false
        var finished = false
    }

    let state = Locked(State())
    private let directory: String
    private let plan: Plan
    private var worker: Worker?

    init(directory: String, plan: Plan) {
        self.directory = directory
        self.plan = plan
    }

    func start() { worker = Worker("sender") { [self] in try run() } }

    func stop() { state.with { $0.stop = true } }

    /// Waits until `condition` holds, failing after `timeout` seconds or when the worker died.
    func wait(timeout: Double, what: String, _ condition: (State) -> Bool) throws {
        let deadline = now() + timeout
        while true {
            let s = state.get
            if condition(s) { return }
            if s.finished && !condition(s) {
                try worker?.join()
                throw BenchFailure("sender stopped before \(what) (\(s.accepted)/\(plan.total) accepted, \(s.receipts) receipts; refusals: \(s.refusals.prefix(3)))")
            }
            if now() > deadline {
                throw BenchFailure("timeout waiting for \(what): \(s.composed) composed, \(s.accepted) accepted, \(s.receipts)/\(plan.expectReceipts) receipts; refusals: \(s.refusals.prefix(3))")
            }
            usleep(2_000)
        }
    }

    func join() throws { try worker?.join() }

    private func run() throws {
        defer { state.with { $0.finished = true } }
        let node = try AgencyNode(directory: directory, logger: Logger(label: "bench-sender", minimum: .error))
        let client = try node.connect()
        try client.send(.subscribe)  // the recipients' receipts come back as deliveries
        let to = try plan.recipients.map { try Address(parsing: $0) }
        var outstanding = 0
        var composed = 0
        var accepted = 0
        var receipts = 0
        var lastPing = now()
        let startedAt = now()
        while !state.get.stop {
            let t = now()
            var due = plan.total - composed
            if let rate = plan.rate { due = min(due, Int((t - startedAt) * rate) + 1 - composed) }
            if due > 0 && outstanding < plan.maxOutstanding {
                let n = min(due, plan.rate == nil ? plan.batch : 1, plan.maxOutstanding - outstanding)
                let drafts = (0..<n).map { i -> AgencyNode.Draft in
                    var d = AgencyNode.Draft(to: to, subject: Vocabulary.subject(seed: composed + i),
                                             body: Vocabulary.body(bytes: plan.bodyBytes, seed: composed + i))
                    d.number = "BENCH/\(composed + i)"
                    if let a = plan.attachment { d.attachments = [a] }
                    return d
                }
                let envelopes = try node.compose(batch: drafts)
                for e in envelopes { try client.send(.submit(e)) }
                let sent = now()
                composed += n
                outstanding += n
                state.with { s in
                    if s.firstSubmit == nil { s.firstSubmit = sent }
                    s.composed = composed
                    if plan.recordSubmitTimes { for e in envelopes { s.submitTimes[e.id] = sent } }
                }
            }
            // Read what the broker sent; do not sleep while there is more to compose.
            var wait = 20
            if composed < plan.total && outstanding < plan.maxOutstanding {
                if let rate = plan.rate {
                    let next = startedAt + Double(composed) / rate
                    wait = max(0, min(20, Int((next - now()) * 1000)))
                } else {
                    wait = 0
                }
            }
            var batch: [BrokerCommand] = []
            if let first = try? client.receive(timeoutMs: wait) {
                batch.append(first)
                while batch.count < 256, let next = try? client.receive(timeoutMs: 0) { batch.append(next) }
            }
            if !batch.isEmpty {
                let events = try node.handle(batch, client: client)
                let at = now()
                var newAccepted = 0, newReceipts = 0
                var refusals: [String] = []
                for e in events {
                    switch e {
                    case .accepted: newAccepted += 1
                    case .receipt: newReceipts += 1
                    case .refused(let id, let error): refusals.append("\(id): \(error.code.rawValue) \(error.reason)"); newAccepted += 1
                    case .pong(.notSubscribed): try client.send(.subscribe)
                    default: break
                    }
                }
                outstanding -= newAccepted
                accepted += newAccepted
                receipts += newReceipts
                state.with { s in
                    s.accepted = accepted
                    s.receipts = receipts
                    if newAccepted > 0 { s.lastAccepted = at }
                    if newReceipts > 0 { s.lastReceipt = at }
                    s.refusals += refusals
                }
            }
            if now() - lastPing > 5 { try client.send(.ping); lastPing = now() }
            if accepted >= plan.total && receipts >= plan.expectReceipts && composed >= plan.total { break }
        }
    }
}

/// Agency nodes receiving in-process: the loop of `bus-cli subscribe` (SUBSCRIBE, `handle`
/// each batch — verify, store durably in the inbox, then send the signed receipt — and PING),
/// for many nodes on one owner thread with one libzmq context and one `zmq_poll`.
final class BenchReceivers: @unchecked Sendable {
    // @unchecked Sendable: nodes and clients live on the worker thread only; results go
    // through locks.
    struct Arrival {
        let node: Int
        let id: String
        let at: Double
    }

    let directories: [String]
    let indexBase: Int
    /// Arrivals (node index, message id, time), when recording; counts always.
    let arrivals = Locked<[Arrival]>([])
    let received = Locked(0)
    let connected = Locked(0)
    private let stopFlag = Locked(false)
    private let record: Bool
    private var worker: Worker?

    init(directories: [String], indexBase: Int = 0, record: Bool) {
        self.directories = directories
        self.indexBase = indexBase
        self.record = record
    }

    func start() { worker = Worker("receivers-\(indexBase)") { [self] in try run() } }
    func stop() throws { stopFlag.with { $0 = true }; try worker?.join() }

    private func run() throws {
        let context = ZMQContext()
        var nodes: [AgencyNode] = []
        var clients: [BrokerClient] = []
        for d in directories {
            let node = try AgencyNode(directory: d, logger: Logger(label: "bench-receiver", minimum: .error))
            let client = try node.connect(context: context)
            try client.send(.subscribe)
            nodes.append(node)
            clients.append(client)
        }
        var subscribed = Set<Int>()
        var lastPing = now()
        while !stopFlag.get {
            let ready = try BrokerClient.readable(clients, timeoutMs: 20)
            for i in ready.indices where ready[i] {
                var batch: [BrokerCommand] = []
                while batch.count < 256, let next = try? clients[i].receive(timeoutMs: 0) { batch.append(next) }
                if batch.isEmpty { continue }
                let events = try nodes[i].handle(batch, client: clients[i])
                let at = now()
                var got: [Arrival] = []
                var count = 0
                for e in events {
                    switch e {
                    case .received(let envelope, _):
                        count += 1
                        if record { got.append(Arrival(node: indexBase + i, id: envelope.id, at: at)) }
                    case .subscribed:
                        if subscribed.insert(i).inserted { connected.with { $0 += 1 } }
                    case .pong(.notSubscribed):
                        try clients[i].send(.subscribe)
                    default:
                        break
                    }
                }
                if count > 0 { received.with { $0 += count } }
                if !got.isEmpty { arrivals.with { $0 += got } }
            }
            if now() - lastPing > 5 {
                for c in clients { try c.send(.ping) }
                lastPing = now()
            }
        }
    }
}
