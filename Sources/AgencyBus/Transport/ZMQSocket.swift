import CZMQ
import Foundation

/// One received multipart message with the metadata libzmq attached to it.
public struct ZMQMessage {
    public var frames: [Data]
    /// The ZAP User-Id of the authenticated peer (the broker sets it to "agency:<id>" etc.).
    public var userId: String?
    /// The peer's address as libzmq saw it (for logs on refusals).
    public var peerAddress: String?
}

/// Owns one zmq socket. Not thread-safe: used only from the thread that owns it.
public final class ZMQSocket {
    public enum Kind {
        case router, dealer, rep, req, pair
        var raw: Int32 {
            switch self {
            case .router: return ZMQ_ROUTER
            case .dealer: return ZMQ_DEALER
            case .rep: return ZMQ_REP
            case .req: return ZMQ_REQ
            case .pair: return ZMQ_PAIR
            }
        }
    }

    let handle: UnsafeMutableRawPointer
    private let context: ZMQContext  // strong: the context outlives its sockets
    private var closed = false

    public init(context: ZMQContext, kind: Kind, linger: Int32 = 200) throws {
        guard let s = zmq_socket(context.handle, kind.raw) else {
            throw ZMQError(code: zmq_errno(), function: "zmq_socket")
        }
        self.handle = s
        self.context = context
        try setOption(ZMQ_LINGER, linger)
    }

    deinit { close() }

    /// Closes the socket now (its connections drop; a listener releases its port).
    public func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    public func setOption(_ option: Int32, _ value: Int32) throws {
        var v = value
        try ZMQError.check("zmq_setsockopt(\(option))") { zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) }
    }

    public func setOption(_ option: Int32, _ value: Int64) throws {
        var v = value
        try ZMQError.check("zmq_setsockopt(\(option))") { zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) }
    }

    public func setOption(_ option: Int32, _ value: Data) throws {
        try ZMQError.check("zmq_setsockopt(\(option))") {
            value.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, value.count) }
        }
    }

    public func setOption(_ option: Int32, _ value: String) throws {
        try setOption(option, Data(value.utf8))
    }

    /// Makes this socket a CURVE server with the given X25519 secret key.
    public func makeCurveServer(secretKey: Data, zapDomain: String) throws {
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, secretKey)
        try setOption(ZMQ_ZAP_DOMAIN, zapDomain)
    }

    /// Makes this socket a CURVE client of the server with `serverKey` (X25519 public).
    public func makeCurveClient(publicKey: Data, secretKey: Data, serverKey: Data) throws {
        try setOption(ZMQ_CURVE_SERVERKEY, serverKey)
        try setOption(ZMQ_CURVE_PUBLICKEY, publicKey)
        try setOption(ZMQ_CURVE_SECRETKEY, secretKey)
    }

    public func bind(_ endpoint: String) throws {
        try ZMQError.check("zmq_bind(\(endpoint))") { zmq_bind(handle, endpoint) }
    }

    public func connect(_ endpoint: String) throws {
        try ZMQError.check("zmq_connect(\(endpoint))") { zmq_connect(handle, endpoint) }
    }

    /// The endpoint actually bound (resolves `tcp://127.0.0.1:*` to the chosen port).
    public var lastEndpoint: String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        _ = zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var events: Int32 {
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        _ = zmq_getsockopt(handle, ZMQ_EVENTS, &v, &size)
        return v
    }

    /// Sends all frames as one multipart message. With `dontWait`, throws EAGAIN when the
    /// peer's queue is full; ROUTER_MANDATORY makes an unknown peer EHOSTUNREACH.
    public func send(_ frames: [Data], dontWait: Bool = false) throws {
        for (i, frame) in frames.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if i < frames.count - 1 { flags |= ZMQ_SNDMORE }
            try ZMQError.check("zmq_send") {
                frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, frame.count, flags) }
            }
        }
    }

    /// Receives one whole multipart message (never a fixed buffer: each frame is a zmq_msg_t).
    /// Returns nil on timeout (EAGAIN) when `dontWait` or a receive timeout is set.
    public func receive(dontWait: Bool = false) throws -> ZMQMessage? {
        var frames: [Data] = []
        var userId: String?
        var peer: String?
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            let rc = zmq_msg_recv(&msg, handle, dontWait && frames.isEmpty ? ZMQ_DONTWAIT : 0)
            if rc < 0 {
                let err = zmq_errno()
                if err == EINTR { if frames.isEmpty { continue } else { continue } }
                if err == EAGAIN && frames.isEmpty { return nil }
                throw ZMQError(code: err, function: "zmq_msg_recv")
            }
            let size = zmq_msg_size(&msg)
            frames.append(size == 0 ? Data() : Data(bytes: zmq_msg_data(&msg), count: size))
            // A ROUTER's routing-id frame carries no metadata; the peer's frames do.
            if userId == nil {
                if let p = zmq_msg_gets(&msg, "User-Id") { userId = String(cString: p) }
                if peer == nil, let p = zmq_msg_gets(&msg, "Peer-Address") { peer = String(cString: p) }
            }
            if zmq_msg_more(&msg) == 0 { break }
        }
        return ZMQMessage(frames: frames, userId: userId, peerAddress: peer)
    }
}

/// Waits on several sockets at once (`zmq_poll`). Returns which sockets are readable.
public enum ZMQPoller {
    public static func pollIn(_ sockets: [ZMQSocket], timeoutMs: Int) throws -> [Bool] {
        var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        let n = items.count
        _ = try ZMQError.check("zmq_poll") { Int32(zmq_poll(&items, Int32(n), timeoutMs)) }
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
