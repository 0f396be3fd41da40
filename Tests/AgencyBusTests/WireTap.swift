import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay for tests that stands where an eavesdropper on the network would: it listens on
/// 127.0.0.1 at a port the kernel picks, forwards every connection it accepts to
/// `127.0.0.1:upstreamPort`, and records every byte that passes, in both directions.
///
/// Point a node's topology endpoint at `endpoint` and the node talks to the broker through the
/// tap; `nodeToBroker` and `brokerToNode` are then what a packet capture of that link holds.
///
/// Each connection gets two threads (one per direction) that block in `poll` with a 100 ms
/// timeout, so `stop()` ends them promptly. Writes use `MSG_NOSIGNAL`: a peer that hangs up
/// must not raise SIGPIPE in the test runner.
// @unchecked Sendable: the accept thread, the pump threads and the test share only the state
// behind `lock` (recordings, counters, the stop flag, the open descriptors); each descriptor is
// read or written by the threads of its own connection only, and closed once, under `lock`.
final class WireTap: @unchecked Sendable {
    let port: Int
    var endpoint: String { "tcp://127.0.0.1:\(port)" }

    private let upstreamPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var upstream = Data()      // node → broker
    private var downstream = Data()    // broker → node
    private var accepted = 0
    private var stopping = false
    private var open: Set<Int32> = []
    private let running = DispatchGroup()

    /// Starts listening at once; throws when a socket call fails.
    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("WireTap: socket: errno \(errno)") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let err = errno
            close(fd)
            throw HarnessError("WireTap: bind/listen: errno \(err)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else {
            close(fd)
            throw HarnessError("WireTap: getsockname: errno \(errno)")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        running.enter()
        Thread.detachNewThread { [self] in
            acceptLoop()
            running.leave()
        }
    }

    deinit { stop() }

    /// The port of a `tcp://host:port` endpoint.
    static func port(of endpoint: String) -> Int? {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return nil }
        return Int(endpoint[endpoint.index(after: colon)...])
    }

    /// Every byte the node side sent so far.
    var nodeToBroker: Data { lock.withLock { upstream } }
    /// Every byte the broker side sent so far.
    var brokerToNode: Data { lock.withLock { downstream } }
    /// Connections accepted so far.
    var connections: Int { lock.withLock { accepted } }

    /// Stops accepting, cuts every relayed connection and waits (at most 5 s) for the threads.
    /// Safe to call more than once.
    func stop() {
        lock.withLock {
            guard !stopping else { return }
            stopping = true
            // Wakes the pumps at once; they close their descriptors on the way out. Under the
            // lock, so a descriptor is never shut down after it was closed (and maybe reused).
            for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
        }
        _ = running.wait(timeout: .now() + 5)
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// True when `fd` has something to read (or hung up) within 100 ms.
    private static func readable(_ fd: Int32) -> Bool {
        var item = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&item, 1, 100) > 0
    }

    // MARK: - Threads

    private func acceptLoop() {
        defer { close(listener) }
        while !isStopping {
            guard Self.readable(listener) else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let connected = server >= 0 && withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
            guard connected else {
                // The broker is not there: the node sees its connection refused, as it would without the tap.
                close(client)
                if server >= 0 { close(server) }
                continue
            }
            let link = Link(client: client, server: server)
            let admitted: Bool = lock.withLock {
                guard !stopping else { return false }
                accepted += 1
                open.formUnion([client, server])
                return true
            }
            guard admitted else { close(client); close(server); continue }
            for (from, to, up) in [(client, server, true), (server, client, false)] {
                running.enter()
                Thread.detachNewThread { [self] in
                    pump(from: from, to: to, upstream: up)
                    finish(link)
                    running.leave()
                }
            }
        }
    }

    /// Copies `from` → `to` and records it, until either side closes or the tap stops.
    private func pump(from: Int32, to: Int32, upstream up: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !isStopping {
            guard Self.readable(from) else { continue }
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            lock.withLock {
                if up { upstream.append(contentsOf: buffer[0..<n]) } else { downstream.append(contentsOf: buffer[0..<n]) }
            }
            var offset = 0
            while offset < n {
                let sent = buffer.withUnsafeBytes { send(to, $0.baseAddress! + offset, n - offset, Int32(MSG_NOSIGNAL)) }
                if sent < 0 && errno == EINTR { continue }
                guard sent > 0 else { return }
                offset += sent
            }
        }
    }

    /// When one direction ends, the other is cut too; the last pump out closes both descriptors.
    private func finish(_ link: Link) {
        // Both pumps still hold the descriptors open here (the second closes them below).
        shutdown(link.client, Int32(SHUT_RDWR))
        shutdown(link.server, Int32(SHUT_RDWR))
        lock.withLock {
            link.ended += 1
            guard link.ended == 2 else { return }
            open.subtract([link.client, link.server])
            close(link.client)
            close(link.server)
        }
    }

    /// The two descriptors of one relayed connection; `ended` is guarded by the tap's lock.
    private final class Link: @unchecked Sendable {
        // @unchecked Sendable: `ended` is only touched under WireTap.lock; the descriptors are constants.
        let client: Int32
        let server: Int32
        var ended = 0
        init(client: Int32, server: Int32) { self.client = client; self.server = server }
    }
}
