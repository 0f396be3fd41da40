import CZMQ

/// Owns one `zmq_ctx`. Sockets hold their context strongly, so the context is terminated
/// only after every socket is closed; each socket sets a bounded linger, so that never hangs.
public final class ZMQContext: @unchecked Sendable {
    // @unchecked Sendable: a zmq context is thread-safe by libzmq's contract ("ØMQ contexts
    // are thread safe and may be shared among as many application threads as necessary").
    let handle: UnsafeMutableRawPointer

    public init() {
        // zmq_ctx_new only fails on out-of-memory / too many open files at process level.
        guard let ctx = zmq_ctx_new() else { fatalError("zmq_ctx_new failed: errno \(zmq_errno())") }
        handle = ctx
    }

    deinit {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
