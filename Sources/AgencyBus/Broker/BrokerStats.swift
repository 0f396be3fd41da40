import Foundation

/// The broker's live counters: what the owner loop records as it accepts, delivers and
/// refuses, and how many bytes go in and out. A pure value: the owner loop updates it with
/// `record` / `received` / `sent`, and `snapshot` turns it plus the session and queue state
/// into a `BrokerStatsSnapshot` without any I/O.
public struct BrokerStats: Sendable {
    public let startedAt: Timestamp

    public private(set) var acceptedBySender: [String: Int] = [:]
    public private(set) var deliveredByRecipient: [String: Int] = [:]
    public private(set) var rejectedByRecipient: [String: Int] = [:]
    public private(set) var refusedByReason: [String: Int] = [:]
    public private(set) var refusedByAgency: [String: Int] = [:]
    public private(set) var bytesIn: Int64 = 0
    public private(set) var bytesOut: Int64 = 0
    public private(set) var operatorsDropped = 0
    public private(set) var latency = LatencyWindow()
    private var acceptedRate = RateCounter()
    private var deliveredRate = RateCounter()
    private var refusedRate = RateCounter()
    /// Refusal times per agency within the last minute (bounded), for "refusal bursts".
    private var recentRefusals: [String: [Int64]] = [:]
    static let burstWindowMilliseconds: Int64 = 60_000

    public init(startedAt: Timestamp) { self.startedAt = startedAt }

    public var accepted: Int { acceptedBySender.values.reduce(0, +) }
    public var delivered: Int { deliveredByRecipient.values.reduce(0, +) }
    public var refused: Int { refusedByReason.values.reduce(0, +) }

    // MARK: - Recording

    /// Counts one event (connection events change no counter: sessions are read live).
    public mutating func record(_ event: BrokerEvent) {
        let at = Timestamp(text: event.ts)?.milliseconds ?? startedAt.milliseconds
        switch event.kind {
        case .accepted:
            acceptedBySender[event.agency ?? "?", default: 0] += 1
            acceptedRate.add(at: at)
        case .delivered:
            deliveredByRecipient[event.agency ?? "?", default: 0] += 1
            deliveredRate.add(at: at)
            latency.add(ms: event.latencyMs ?? 0, at: at)
        case .rejected:
            rejectedByRecipient[event.agency ?? "?", default: 0] += 1
        case .refused:
            refusedByReason[event.code ?? "?", default: 0] += 1
            refusedRate.add(at: at)
            if let agency = event.agency {
                refusedByAgency[agency, default: 0] += 1
                var times = recentRefusals[agency, default: []].filter { at - $0 <= Self.burstWindowMilliseconds }
                if times.count >= 1000 { times.removeFirst(times.count - 999) }
                times.append(at)
                recentRefusals[agency] = times
            }
        case .operatorDropped:
            operatorsDropped += 1
        case .connected, .disconnected:
            break
        }
    }

    public mutating func received(bytes: Int) { bytesIn += Int64(bytes) }
    public mutating func sent(bytes: Int) { bytesOut += Int64(bytes) }

    // MARK: - Snapshot

    /// One live delivery session as the snapshot needs it.
    public struct Session: Sendable {
        public var agency: String
        public var since: Timestamp
        public var peer: String?
        public var inFlight: Int
        public init(agency: String, since: Timestamp, peer: String?, inFlight: Int) {
            self.agency = agency; self.since = since; self.peer = peer; self.inFlight = inFlight
        }
    }

    /// Everything outside the counters that a snapshot shows, read by the broker just before.
    public struct Inputs: Sendable {
        public var broker: String
        public var endpoint: String
        public var agencies: [String]
        public var sessions: [Session]
        public var queue: [BrokerStore.QueueEntry]
        public var storeBytes: Int64
        public var watching: Int
        public init(broker: String, endpoint: String, agencies: [String], sessions: [Session],
                    queue: [BrokerStore.QueueEntry], storeBytes: Int64, watching: Int) {
            self.broker = broker; self.endpoint = endpoint; self.agencies = agencies; self.sessions = sessions
            self.queue = queue; self.storeBytes = storeBytes; self.watching = watching
        }
    }

    /// The snapshot at `now`: a pure function of the counters and `inputs`.
    public func snapshot(now: Timestamp, _ inputs: Inputs) -> BrokerStatsSnapshot {
        let ms = now.milliseconds
        let uptime = max(0, ms - startedAt.milliseconds)
        let sessions = Dictionary(inputs.sessions.map { ($0.agency, $0) }, uniquingKeysWith: { a, _ in a })
        let queue = Dictionary(inputs.queue.map { ($0.recipient, $0) }, uniquingKeysWith: { a, _ in a })
        var ids = Set(inputs.agencies)
        for key in [acceptedBySender.keys, deliveredByRecipient.keys, rejectedByRecipient.keys, refusedByAgency.keys].joined() { ids.insert(key) }
        ids.formUnion(sessions.keys)
        ids.formUnion(queue.keys)
        let agencies = ids.sorted().map { id -> BrokerStatsSnapshot.Agency in
            let s = sessions[id]
            let q = queue[id]
            return BrokerStatsSnapshot.Agency(
                id: id, connected: s != nil, since: s?.since.text, peer: s?.peer,
                queued: q?.depth ?? 0,
                oldestAgeSeconds: q.map { Double(max(0, ms - $0.oldestAcceptedAt)) / 1000 },
                inFlight: s?.inFlight ?? 0,
                accepted: acceptedBySender[id] ?? 0, delivered: deliveredByRecipient[id] ?? 0,
                rejected: rejectedByRecipient[id] ?? 0, refused: refusedByAgency[id] ?? 0,
                refusedLastMinute: recentRefusals[id]?.filter { ms - $0 <= Self.burstWindowMilliseconds && $0 <= ms }.count ?? 0)
        }
        let p = latency.percentiles(now: ms)
        return BrokerStatsSnapshot(
            broker: inputs.broker, endpoint: inputs.endpoint, at: now.text, startedAt: startedAt.text,
            uptimeSeconds: Double(uptime) / 1000,
            connectedNodes: sessions.count,
            totals: .init(accepted: accepted, delivered: delivered, rejected: rejectedByRecipient.values.reduce(0, +),
                          refused: refused, queued: inputs.queue.reduce(0) { $0 + $1.depth },
                          inFlight: inputs.sessions.reduce(0) { $0 + $1.inFlight }, bytesIn: bytesIn, bytesOut: bytesOut),
            rates: .init(acceptedPerSecond: acceptedRate.perSecond(now: ms, uptimeMs: uptime),
                         deliveredPerSecond: deliveredRate.perSecond(now: ms, uptimeMs: uptime),
                         refusedPerSecond: refusedRate.perSecond(now: ms, uptimeMs: uptime)),
            latency: .init(windowSeconds: Double(latency.windowMilliseconds) / 1000, samples: p.samples,
                           p50Ms: p.p50, p95Ms: p.p95, p99Ms: p.p99, count: latency.count,
                           sumSeconds: Double(latency.sumMilliseconds) / 1000,
                           buckets: latency.cumulativeBuckets.map { .init(le: $0.le.isFinite ? $0.le : nil, count: $0.count) }),
            refusedByReason: refusedByReason, storeBytes: inputs.storeBytes,
            operators: .init(watching: inputs.watching, dropped: operatorsDropped),
            agencies: agencies)
    }
}
