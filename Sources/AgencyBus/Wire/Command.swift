import Foundation

/// Wire protocol v1 commands. Every ZeroMQ message a peer sends is
/// `"AGB1" | COMMAND | arguments...` (the broker's ROUTER adds the routing id in front).
public enum Protocol {
    public static let signature = Data("AGB1".utf8)
}

/// What a node (DEALER) sends the broker.
public enum ClientCommand {
    /// Submit a signed message: header, signature, attachment frames.
    case submit(Envelope)
    /// Start (or resume) receiving deliveries for the authenticated agency.
    case subscribe
    /// A signed receipt for delivered messages.
    case receipt(Envelope)
    /// Liveness probe; the broker answers PONG.
    case ping
    /// Ask for the route of a letter (by its id or the id of any disposition in its tree).
    case trace(id: String)
    /// Operators only: one statistics snapshot (answered STATS).
    case stats
    /// Operators only: make this connection an operator stream (EVENTs and a STATS a second).
    case watch

    public var name: String {
        switch self {
        case .submit: return "SUBMIT"
        case .subscribe: return "SUBSCRIBE"
        case .receipt: return "RECEIPT"
        case .ping: return "PING"
        case .trace: return "TRACE"
        case .stats: return "STATS"
        case .watch: return "WATCH"
        }
    }

    public func encode() -> [Data] {
        let head = [Protocol.signature, Data(name.utf8)]
        switch self {
        case .submit(let e), .receipt(let e): return head + e.frames
        case .subscribe, .ping, .stats, .watch: return head
        case .trace(let id): return head + [Data(id.utf8)]
        }
    }

    /// Decodes frames (without the routing id). Throws ProtocolError with a precise reason.
    public static func decode(_ frames: ArraySlice<Data>) throws -> ClientCommand {
        let (name, args) = try splitHead(frames)
        switch name {
        case "SUBMIT":
            guard args.count >= 2 else { throw ProtocolError(.malformed, "SUBMIT needs header and signature frames") }
            return .submit(try Envelope(header: args[args.startIndex], signature: args[args.startIndex + 1],
                                        attachments: Array(args.dropFirst(2))))
        case "RECEIPT":
            guard args.count == 2 else { throw ProtocolError(.malformed, "RECEIPT has exactly header and signature frames") }
            return .receipt(try Envelope(header: args[args.startIndex], signature: args[args.startIndex + 1], attachments: []))
        case "SUBSCRIBE":
            guard args.isEmpty else { throw ProtocolError(.malformed, "SUBSCRIBE takes no arguments") }
            return .subscribe
        case "PING":
            guard args.isEmpty else { throw ProtocolError(.malformed, "PING takes no arguments") }
            return .ping
        case "TRACE":
            guard args.count == 1, let id = String(data: args[args.startIndex], encoding: .utf8), MessageID.isValid(id) else {
                throw ProtocolError(.malformed, "TRACE has one frame: a message id (ULID)")
            }
            return .trace(id: id)
        case "STATS":
            guard args.isEmpty else { throw ProtocolError(.malformed, "STATS takes no arguments") }
            return .stats
        case "WATCH":
            guard args.isEmpty else { throw ProtocolError(.malformed, "WATCH takes no arguments") }
            return .watch
        default:
            throw ProtocolError(.malformed, "unknown command '\(name.prefix(32))'")
        }
    }
}

/// What the broker sends a node.
public enum BrokerCommand {
    /// Broker-signed acceptance of submitted messages (durable before it is sent).
    case accepted(Envelope)
    /// A submission refused: message id (or "-" when unknown), code, reason.
    case refused(id: String, code: RefusalCode, reason: String)
    /// A message for the node: header, signature, attachment frames.
    case deliver(Envelope)
    /// SUBSCRIBE took effect for this agency.
    case subscribed(agency: String)
    /// Answer to PING: whether this connection is the agency's live delivery session.
    case pong(SessionState)
    /// Answer to TRACE: a TraceReport as JSON.
    case traced(Data)
    /// Operators: a BrokerStatsSnapshot as JSON (answer to STATS, and every second on a WATCH stream).
    case stats(Data)
    /// Operators: one BrokerEvent as JSON on a WATCH stream.
    case event(Data)

    public var name: String {
        switch self {
        case .traced: return "TRACED"
        case .accepted: return "ACCEPTED"
        case .refused: return "REFUSED"
        case .deliver: return "DELIVER"
        case .subscribed: return "SUBSCRIBED"
        case .pong: return "PONG"
        case .stats: return "STATS"
        case .event: return "EVENT"
        }
    }

    public func encode() -> [Data] {
        let head = [Protocol.signature, Data(name.utf8)]
        switch self {
        case .accepted(let e), .deliver(let e): return head + e.frames
        case .refused(let id, let code, let reason): return head + [Data(id.utf8), Data(code.rawValue.utf8), Data(reason.utf8)]
        case .subscribed(let agency): return head + [Data(agency.utf8)]
        case .pong(let state): return head + [Data(state.rawValue.utf8)]
        case .traced(let json), .stats(let json), .event(let json): return head + [json]
        }
    }

    public static func decode(_ frames: ArraySlice<Data>) throws -> BrokerCommand {
        let (name, args) = try splitHead(frames)
        let a = Array(args)
        func text(_ i: Int) throws -> String {
            guard i < a.count, let s = String(data: a[i], encoding: .utf8) else {
                throw ProtocolError(.malformed, "\(name) frame \(i + 2) is missing or not UTF-8")
            }
            return s
        }
        switch name {
        case "ACCEPTED":
            guard a.count == 2 else { throw ProtocolError(.malformed, "ACCEPTED has header and signature frames") }
            return .accepted(try Envelope(header: a[0], signature: a[1], attachments: []))
        case "DELIVER":
            guard a.count >= 2 else { throw ProtocolError(.malformed, "DELIVER needs header and signature frames") }
            return .deliver(try Envelope(header: a[0], signature: a[1], attachments: Array(a.dropFirst(2))))
        case "REFUSED":
            guard a.count == 3 else { throw ProtocolError(.malformed, "REFUSED has id, code and reason frames") }
            guard let code = RefusalCode(rawValue: try text(1)) else { throw ProtocolError(.malformed, "REFUSED with an unknown code") }
            return .refused(id: try text(0), code: code, reason: try text(2))
        case "SUBSCRIBED":
            guard a.count == 1 else { throw ProtocolError(.malformed, "SUBSCRIBED has one agency frame") }
            return .subscribed(agency: try text(0))
        case "TRACED":
            guard a.count == 1 else { throw ProtocolError(.malformed, "TRACED has one JSON frame") }
            return .traced(a[0])
        case "PONG":
            guard a.count == 1, let state = SessionState(rawValue: try text(0)) else {
                throw ProtocolError(.malformed, "PONG has one frame: 0, 1 or 2")
            }
            return .pong(state)
        case "STATS":
            guard a.count == 1 else { throw ProtocolError(.malformed, "STATS has one JSON frame") }
            return .stats(a[0])
        case "EVENT":
            guard a.count == 1 else { throw ProtocolError(.malformed, "EVENT has one JSON frame") }
            return .event(a[0])
        default:
            throw ProtocolError(.malformed, "unknown command '\(name.prefix(32))'")
        }
    }
}

private func splitHead(_ frames: ArraySlice<Data>) throws -> (String, ArraySlice<Data>) {
    guard let first = frames.first else { throw ProtocolError(.malformed, "empty message") }
    guard first == Protocol.signature else {
        throw ProtocolError(.unsupportedVersion, "first frame must be 'AGB1' (protocol v1)")
    }
    guard frames.count >= 2, let name = String(data: frames[frames.startIndex + 1], encoding: .utf8), !name.isEmpty else {
        throw ProtocolError(.malformed, "missing command frame")
    }
    return (name, frames.dropFirst(2))
}

/// What PONG says about the connection that sent PING.
public enum SessionState: String, Sendable {
    /// Not (or no longer, after a reconnect) the delivery session: send SUBSCRIBE again.
    case notSubscribed = "0"
    /// The agency's live delivery session.
    case subscribed = "1"
    /// Another subscriber of the same agency took the session over; do not fight for it.
    case replaced = "2"
}
