/// What the broker keeps for monitoring next to its sessions: the counters, events waiting for
/// their commit, who each connection is, the operator streams and the metrics listener.
/// Owned by the broker's owner thread, like the sessions; `Broker+Monitoring.swift` drives it.
final class BrokerMonitor {
    /// Who is behind a ROUTER routing id, and where from.
    struct Connection {
        let identity: PeerIdentity
        let peer: String?
        var lastSeen: Int64
    }

    /// A delivery session as the last tick saw it (to notice sessions that began or ended).
    struct SeenSession {
        let routingID: [UInt8]
        let lastSeen: Timestamp
    }

    var stats: BrokerStats
    /// Events of the round being committed; counted and streamed only once it is durable.
    var staged: [BrokerEvent] = []
    var connections: [[UInt8]: Connection] = [:]
    var streams = OperatorStreams()
    var seenSessions: [String: SeenSession] = [:]
    var metrics: MetricsServer?
    var lastTick: Int64 = 0

    /// The queue summary is read from SQLite at most every `max(250 ms, 20 × its cost)`, and
    /// only after a commit changed it, so a large queue cannot eat the owner loop.
    var queue: [BrokerStore.QueueEntry] = []
    var storeBytes: Int64 = 0
    var queueDirty = true
    var queueReadAt: Int64 = 0
    var queueCostMs: Int64 = 0

    init(startedAt: Timestamp) {
        stats = BrokerStats(startedAt: startedAt)
    }

    deinit { metrics?.stop() }
}
