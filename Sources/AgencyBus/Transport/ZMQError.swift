import CZMQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed libzmq call, keeping errno and the function that failed.
public struct ZMQError: Error, CustomStringConvertible {
    public let code: Int32
    public let function: String

    public var description: String { "\(function): \(String(cString: zmq_strerror(code))) (errno \(code))" }
    public var isWouldBlock: Bool { code == EAGAIN }
    /// ROUTER_MANDATORY: the peer is gone (or was never there).
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }

    /// The one funnel for libzmq return codes: retries EINTR, traps on codes that can only
    /// be our bug (ENOTSOCK, EFAULT), and throws the rest.
    @discardableResult
    static func check(_ function: String, _ call: () -> Int32) throws -> Int32 {
        while true {
            let rc = call()
            if rc >= 0 { return rc }
            let err = zmq_errno()
            if err == EINTR { continue }
            precondition(err != ENOTSOCK && err != EFAULT, "\(function): \(String(cString: zmq_strerror(err))) — a bug in AgencyBus")
            throw ZMQError(code: err, function: function)
        }
    }
}
