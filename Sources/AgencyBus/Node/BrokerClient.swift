import CZMQ
import Foundation

/// A node's CURVE-authenticated DEALER connection to its broker.
public final class BrokerClient {
    let context: ZMQContext
    let socket: ZMQSocket
    public let endpoint: String

    public init(endpoint: String, brokerKey: PublicKey, identity: SecretKey, context: ZMQContext = ZMQContext()) throws {
        self.context = context
        self.endpoint = endpoint
        socket = try ZMQSocket(context: context, kind: .dealer, linger: 0)
        try socket.makeCurveClient(publicKey: identity.publicKey.curvePublicKey, secretKey: identity.curveSecretKey,
                                   serverKey: brokerKey.curvePublicKey)
        try socket.setOption(ZMQ_MAXMSGSIZE, Limits.maxWireMessageBytes)
        // libzmq reconnects by itself, doubling the interval up to the cap. Jitter spreads
        // the reconnects of hundreds of nodes after a broker restart or a WAN outage.
        try socket.setOption(ZMQ_RECONNECT_IVL, Int32(100 + Int32.random(in: 0...200)))
        try socket.setOption(ZMQ_RECONNECT_IVL_MAX, Int32(5_000 + Int32.random(in: 0...2_000)))
        // A connect stuck in SYN retries (a WAN cut) is given up after 10 s and retried, so the
        // node is back within seconds of the link returning, not after the kernel's ~2 minutes.
        try socket.setOption(ZMQ_CONNECT_TIMEOUT, Int32(10_000))
        // ZMTP heartbeats detect a dead broker or a cut link within about 15 s.
        try socket.setOption(ZMQ_HEARTBEAT_IVL, Int32(5_000))
        try socket.setOption(ZMQ_HEARTBEAT_TIMEOUT, Int32(15_000))
        try socket.setOption(ZMQ_SNDHWM, Int32(10_000))
        try socket.setOption(ZMQ_RCVHWM, Int32(10_000))
        try socket.connect(endpoint)
    }

    public func send(_ command: ClientCommand) throws {
        try socket.send(command.encode())
    }

    /// Which of `clients` have a command waiting, after waiting up to `timeoutMs` for any of
    /// them (one `zmq_poll` over all: one owner thread serving many agencies' connections).
    public static func readable(_ clients: [BrokerClient], timeoutMs: Int) throws -> [Bool] {
        try ZMQPoller.pollIn(clients.map(\.socket), timeoutMs: timeoutMs)
    }

    /// The next command from the broker, or nil when none came within `timeoutMs`.
    /// A frame sequence that is not valid protocol is reported as ProtocolError.
    public func receive(timeoutMs: Int) throws -> BrokerCommand? {
        if try ZMQPoller.pollIn([socket], timeoutMs: timeoutMs)[0] == false { return nil }
        guard let msg = try socket.receive(dontWait: true) else { return nil }
        return try BrokerCommand.decode(msg.frames[...])
    }
}
