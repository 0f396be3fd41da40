import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A userspace TCP proxy that holds every chunk of bytes for a fixed time before passing it
/// on, in both directions: the added latency of a WAN, which this kernel cannot add with
/// `netem`. It listens on `listenHost` (a port the kernel picks) and opens one upstream
/// connection per accepted client. Bytes stay in order; at most `maxQueuedBytes` wait per
/// direction, so a slow reader slows the writer (TCP back-pressure passes through). When
/// either side closes or fails, both sides of that connection are closed.
///
/// Threads, blocking sockets: four threads per connection, which is fine for a test's handful.
final class DelayProxy: @unchecked Sendable {
    // @unchecked Sendable: the mutable state (`connections`, `stopped`, counters) is behind `lock`.
    let listenHost: String
    private(set) var port: Int = 0
    let upstreamHost: String
    let upstreamPort: Int
    let oneWayDelay: Double
    let maxQueuedBytes = 1 << 20

    private let listener: Int32
    private let lock = NSLock()
    private var stopped = false
    private var connections: [Connection] = []
    private var acceptedCount = 0

    var accepted: Int { lock.lock(); defer { lock.unlock() }; return acceptedCount }

    init(listenHost: String, upstreamHost: String, upstreamPort: Int, oneWayDelay: Double) throws {
        self.listenHost = listenHost
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.oneWayDelay = oneWayDelay
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw HarnessError("proxy socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = try Self.address(listenHost, port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            let e = errno
            close(listener)
            throw HarnessError("proxy bind/listen on \(listenHost): errno \(e)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "delay-proxy-accept"
        thread.start()
    }

    deinit { stop() }

    var endpoint: String { "tcp://\(listenHost):\(port)" }

    /// Closes the listener and every connection.
    func stop() {
        lock.lock()
        if stopped { lock.unlock(); return }
        stopped = true
        let open = connections
        connections.removeAll()
        lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        for c in open { c.finish() }
    }

    static func address(_ host: String, port: Int) throws -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else { throw HarnessError("not an IPv4 address: \(host)") }
        return a
    }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 200)
            lock.lock()
            let done = stopped
            lock.unlock()
            if done { return }
            if ready <= 0 { continue }
            let client = accept(listener, nil, nil)
            if client < 0 { continue }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard upstream >= 0, var target = try? Self.address(upstreamHost, port: upstreamPort) else {
                close(client)
                if upstream >= 0 { close(upstream) }
                continue
            }
            let connected = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected != 0 {
                close(client)  // the broker is not there: the client sees a closed connection, as it would
                close(upstream)
                continue
            }
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(upstream, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connection = Connection(a: client, b: upstream, delay: oneWayDelay, maxQueued: maxQueuedBytes)
            lock.lock()
            acceptedCount += 1
            connections.removeAll { $0.isFinished }
            connections.append(connection)
            lock.unlock()
            connection.start()
        }
    }

    /// One proxied connection: two directions, each a reader thread that timestamps chunks
    /// and a writer thread that sends each chunk once its delay has passed.
    final class Connection: @unchecked Sendable {
        // @unchecked Sendable: shared state is behind `condition`.
        let a: Int32, b: Int32
        let delay: Double
        let maxQueued: Int
        private let condition = NSCondition()
        private var queues: [[(due: Double, data: Data)]] = [[], []]
        private var queuedBytes = [0, 0]
        private var readerDone = [false, false]
        private var finished = false
        private var threadsLeft = 4

        init(a: Int32, b: Int32, delay: Double, maxQueued: Int) {
            self.a = a; self.b = b; self.delay = delay; self.maxQueued = maxQueued
        }

        var isFinished: Bool { condition.lock(); defer { condition.unlock() }; return finished }

        func start() {
            for (direction, (from, to)) in [(a, b), (b, a)].enumerated() {
                let reader = Thread { [self] in read(direction: direction, from: from); exit() }
                let writer = Thread { [self] in write(direction: direction, to: to); exit() }
                reader.name = "delay-proxy-read"
                writer.name = "delay-proxy-write"
                reader.start()
                writer.start()
            }
        }

        /// Closes both sides; blocked reads and writes return at once.
        func finish() {
            condition.lock()
            if !finished {
                finished = true
                shutdown(a, Int32(SHUT_RDWR))
                shutdown(b, Int32(SHUT_RDWR))
            }
            condition.broadcast()
            condition.unlock()
        }

        private func exit() {
            condition.lock()
            threadsLeft -= 1
            let last = threadsLeft == 0
            condition.unlock()
            if last { close(a); close(b) }
        }

        private static func now() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }

        private func read(direction: Int, from fd: Int32) {
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                condition.lock()
                if n <= 0 || finished {
                    readerDone[direction] = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                queues[direction].append((Self.now() + delay, Data(buffer[0..<n])))
                queuedBytes[direction] += n
                condition.broadcast()
                while queuedBytes[direction] > maxQueued && !finished { condition.wait() }
                condition.unlock()
            }
        }

        private func write(direction: Int, to fd: Int32) {
            while true {
                condition.lock()
                while queues[direction].isEmpty && !readerDone[direction] && !finished { condition.wait() }
                if finished || queues[direction].isEmpty {
                    // The source closed and everything it sent went out: close the connection.
                    condition.unlock()
                    finish()
                    return
                }
                let (due, data) = queues[direction][0]
                condition.unlock()
                let wait = due - Self.now()
                if wait > 0 { usleep(useconds_t(wait * 1e6)) }
                var sent = 0
                while sent < data.count {
                    let n = data.withUnsafeBytes { send(fd, $0.baseAddress! + sent, data.count - sent, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { finish(); return }
                    sent += n
                }
                condition.lock()
                queues[direction].removeFirst()
                queuedBytes[direction] -= data.count
                condition.broadcast()
                condition.unlock()
            }
        }
    }
}
