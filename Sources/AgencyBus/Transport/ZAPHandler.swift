import Foundation

/// Who a CURVE peer is, as the ZAP handler decided from its public key.
public enum PeerIdentity: Equatable, Sendable {
    case agency(String)
    case `operator`(String)

    /// The ZAP User-Id text the broker reads back from each message.
    public var userID: String {
        switch self {
        case .agency(let id): return "agency:\(id)"
        case .operator(let id): return "operator:\(id)"
        }
    }

    public init?(userID: String) {
        if userID.hasPrefix("agency:") { self = .agency(String(userID.dropFirst(7))) }
        else if userID.hasPrefix("operator:") { self = .operator(String(userID.dropFirst(9))) }
        else { return nil }
    }
}

/// ZAP (RFC 27) admission from the topology: a CURVE client is admitted only when its
/// X25519 public key is derived from an agency's or operator's Ed25519 key in the topology.
/// Pure: the broker's loop feeds it request frames and sends back the reply frames.
public struct ZAPHandler {
    public static let endpoint = "inproc://zeromq.zap.01"
    public static let domain = "agencybus"
    private var admitted: [Data: PeerIdentity] = [:]

    public init(topology: Topology) {
        for a in topology.agencies where !a.publicKey.isEmpty && a.revoked != true {
            if let key = try? PublicKey(text: a.publicKey) { admitted[key.curvePublicKey] = .agency(a.id) }
        }
        for o in topology.operators where !o.publicKey.isEmpty && o.revoked != true {
            if let key = try? PublicKey(text: o.publicKey) { admitted[key.curvePublicKey] = .operator(o.id) }
        }
    }

    /// The admitted CURVE keys and whom each one identifies.
    public var admittedKeys: [Data: PeerIdentity] { admitted }

    public struct Decision {
        public let reply: [Data]
        public let identity: PeerIdentity?
        public let address: String
        public let mechanism: String
    }

    /// Answers one ZAP request: `version, request id, domain, address, identity, mechanism, credentials...`.
    public func handle(_ request: [Data]) -> Decision {
        func reply(_ id: Data, _ code: String, _ text: String, _ user: String) -> [Data] {
            [Data("1.0".utf8), id, Data(code.utf8), Data(text.utf8), Data(user.utf8), Data()]
        }
        guard request.count >= 6, request[0] == Data("1.0".utf8) else {
            let id = request.count > 1 ? request[1] : Data()
            return Decision(reply: reply(id, "500", "malformed ZAP request", ""), identity: nil, address: "?", mechanism: "?")
        }
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        guard mechanism == "CURVE", request.count >= 7, request[6].count == 32 else {
            return Decision(reply: reply(request[1], "400", "CURVE required", ""), identity: nil, address: address, mechanism: mechanism)
        }
        guard let who = admitted[request[6]] else {
            return Decision(reply: reply(request[1], "400", "key not in topology", ""), identity: nil, address: address, mechanism: mechanism)
        }
        return Decision(reply: reply(request[1], "200", "OK", who.userID), identity: who, address: address, mechanism: mechanism)
    }
}
