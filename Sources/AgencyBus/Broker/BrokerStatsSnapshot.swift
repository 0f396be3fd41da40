import Foundation

/// What `Broker.stats()` returns: every live figure of the broker at one instant. Codable: the
/// `STATS` answer and the operator stream carry it as JSON, `bus-cli stats --json` prints it,
/// and the Prometheus exposition is rendered from it.
public struct BrokerStatsSnapshot: Codable, Sendable, Equatable {
    public var broker: String
    public var endpoint: String
    /// When the snapshot was taken (RFC 3339 UTC).
    public var at: String
    public var startedAt: String
    public var uptimeSeconds: Double
    /// Agencies with a live delivery session.
    public var connectedNodes: Int
    public var totals: Totals
    public var rates: Rates
    public var latency: Latency
    /// REFUSED answers by code (`RefusalCode` raw values).
    public var refusedByReason: [String: Int]
    /// Bytes of queue.sqlite (page_count × page_size).
    public var storeBytes: Int64
    public var operators: Operators
    /// One row per agency of the topology (and any other that has traffic), sorted by id.
    public var agencies: [Agency]

    public struct Totals: Codable, Sendable, Equatable {
        /// Submissions committed since the broker started (letters, dispositions, statuses).
        public var accepted: Int
        /// Deliveries closed by a `stored` receipt since the broker started (every kind).
        public var delivered: Int
        /// Deliveries closed by a `rejected` receipt.
        public var rejected: Int
        /// REFUSED answers sent.
        public var refused: Int
        /// Pending deliveries now (all recipients).
        public var queued: Int
        /// Deliveries sent and not yet receipted, over all sessions.
        public var inFlight: Int
        public var bytesIn: Int64
        public var bytesOut: Int64
    }

    /// Mean rates over the last minute (or the uptime, when shorter).
    public struct Rates: Codable, Sendable, Equatable {
        public var acceptedPerSecond: Double
        public var deliveredPerSecond: Double
        public var refusedPerSecond: Double
    }

    /// Accept → deliver latency (receipt time minus acceptance time).
    public struct Latency: Codable, Sendable, Equatable {
        /// The percentiles cover deliveries of the last `windowSeconds` (at most 10 000).
        public var windowSeconds: Double
        public var samples: Int
        public var p50Ms: Int64?
        public var p95Ms: Int64?
        public var p99Ms: Int64?
        /// Since start: every delivery, for the Prometheus histogram.
        public var count: Int
        public var sumSeconds: Double
        public var buckets: [Bucket]

        /// Cumulative count of deliveries at or under `le` seconds (`le` = nil is +Inf).
        public struct Bucket: Codable, Sendable, Equatable {
            public var le: Double?
            public var count: Int
        }
    }

    public struct Operators: Codable, Sendable, Equatable {
        /// Operator streams (WATCH) open now.
        public var watching: Int
        /// Streams dropped since start because the operator could not keep up.
        public var dropped: Int
    }

    /// One agency: its node's session and its traffic.
    public struct Agency: Codable, Sendable, Equatable {
        public var id: String
        /// A delivery session is live (the node subscribed and has not gone silent).
        public var connected: Bool
        /// When the live session began.
        public var since: String?
        /// The node's network address as the broker sees it.
        public var peer: String?
        /// Pending deliveries for this agency.
        public var queued: Int
        /// Age of its oldest pending message (seconds since the broker accepted it).
        public var oldestAgeSeconds: Double?
        public var inFlight: Int
        /// Submissions from this agency committed since start.
        public var accepted: Int
        /// Deliveries to this agency closed `stored` since start.
        public var delivered: Int
        public var rejected: Int
        /// REFUSED answers to this agency since start, and in the last minute.
        public var refused: Int
        public var refusedLastMinute: Int

        /// 0 = disconnected with mail waiting, 1 = mail waiting, 2 = refusal burst, 3 = fine.
        public var problemTier: Int {
            if !connected && queued > 0 { return 0 }
            if queued > 0 { return 1 }
            if refusedLastMinute > 0 { return 2 }
            return 3
        }
    }

    /// The agencies with problems first: disconnected with queued mail, then by age of the
    /// oldest undelivered message, then refusal bursts; the healthy ones by id.
    public var agenciesByProblem: [Agency] {
        agencies.sorted { a, b in
            if a.problemTier != b.problemTier { return a.problemTier < b.problemTier }
            switch a.problemTier {
            case 0, 1:
                let (x, y) = (a.oldestAgeSeconds ?? 0, b.oldestAgeSeconds ?? 0)
                if x != y { return x > y }
                if a.queued != b.queued { return a.queued > b.queued }
            case 2:
                if a.refusedLastMinute != b.refusedLastMinute { return a.refusedLastMinute > b.refusedLastMinute }
            default:
                if a.connected != b.connected { return a.connected }
            }
            return a.id < b.id
        }
    }

    public func agency(_ id: String) -> Agency? { agencies.first { $0.id == id } }

    /// Compact JSON with sorted keys (the STATS frame).
    public func json() -> Data {
        // try!: plain strings, numbers and arrays; encoding cannot fail.
        try! BrokerEvent.encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> BrokerStatsSnapshot {
        try JSONDecoder().decode(BrokerStatsSnapshot.self, from: data)
    }
}
