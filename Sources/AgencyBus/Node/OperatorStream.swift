import Foundation

/// A live operator stream (WATCH): the broker pushes an EVENT per thing that happens and a
/// STATS snapshot every second. This side keeps it alive: PING every 5 s, WATCH again when
/// the broker answers PONG 0 (it restarted, or dropped this stream as too slow), a fresh
/// connection after 15 s of silence. Not thread-safe: one owner (the CLI's main thread).
public final class OperatorStream {
    /// What `next` produced.
    public enum Update {
        case stats(BrokerStatsSnapshot)
        case event(BrokerEvent)
        /// Nothing heard for a while (the text says since when and what to check).
        case lost(String)
        /// Heard again after `lost`.
        case restored
    }

    let op: OperatorClient
    public let broker: Topology.Broker
    private var client: BrokerClient
    private var lastHeard = Date()
    private var lastPing = Date()
    private var lastConnect = Date()
    private var isLost = false
    static let pingEvery = 5.0
    /// STATS come every second; this much silence means trouble.
    static let lostAfter = 5.0
    static let reconnectAfter = 15.0

    init(operator op: OperatorClient, broker: Topology.Broker) throws {
        self.op = op
        self.broker = broker
        client = try op.connect(broker)
        try client.send(.watch)
    }

    /// Waits up to `timeoutMs` for what the broker sends; returns everything that is ready.
    /// Throws `NodeError.refused` when the broker refuses the stream (e.g. not an operator key).
    public func next(timeoutMs: Int) throws -> [Update] {
        var out: [Update] = []
        var commands: [BrokerCommand] = []
        do {
            if let first = try client.receive(timeoutMs: timeoutMs) {
                commands.append(first)
                while commands.count < 1024, let more = try client.receive(timeoutMs: 0) { commands.append(more) }
            }
        } catch let e as ProtocolError {
            op.log.warning("unreadable message from broker", ["reason": e.reason])
        }
        let now = Date()
        if !commands.isEmpty {
            lastHeard = now
            if isLost { isLost = false; out.append(.restored) }
        }
        for command in commands {
            switch command {
            case .stats(let json):
                if let s = try? BrokerStatsSnapshot.decode(json) { out.append(.stats(s)) } else {
                    op.log.warning("unreadable STATS from broker", ["bytes": json.count])
                }
            case .event(let json):
                if let e = try? JSONDecoder().decode(BrokerEvent.self, from: json) { out.append(.event(e)) } else {
                    op.log.warning("unreadable EVENT from broker", ["bytes": json.count])
                }
            case .pong(.notSubscribed), .pong(.replaced):
                op.log.info("stream not open at the broker; watching again", ["broker": broker.id])
                try client.send(.watch)
            case .refused(_, let code, let reason):
                throw NodeError.refused(ProtocolError(code, reason))
            default:
                break
            }
        }
        if now.timeIntervalSince(lastPing) >= Self.pingEvery {
            try client.send(.ping)
            lastPing = now
        }
        let silent = now.timeIntervalSince(lastHeard)
        if silent >= Self.lostAfter && !isLost {
            isLost = true
            out.append(.lost("no word from the broker since \(Timestamp(milliseconds: Int64(lastHeard.timeIntervalSince1970 * 1000)).text); retrying. "
                              + op.silence(broker, seconds: silent)))
        }
        if silent >= Self.reconnectAfter && now.timeIntervalSince(lastConnect) >= Self.reconnectAfter {
            op.log.info("reconnecting", ["broker": broker.id, "endpoint": broker.endpoint])
            client = try op.connect(broker)
            try client.send(.watch)
            lastConnect = now
        }
        return out
    }
}
