import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny blocking HTTP/1.1 server for `GET /metrics`, on its own thread. It only ever serves
/// the text the broker's owner loop last handed it (`publish`), so it touches neither SQLite
/// nor ZeroMQ: the owner thread renders, this thread copies bytes to the socket.
///
/// One request per connection (`Connection: close`), a 8 KiB request limit, a 2 s read and
/// write timeout and a 5 s budget per connection; `/metrics` → 200, other paths → 404, other
/// methods → 405. It binds loopback only unless `allowRemote` is set.
///
/// Throws `MetricsServerError` for an unparsable or non-loopback address (`isUsage`) or when
/// the port cannot be bound.
public final class MetricsServer: @unchecked Sendable {
    // @unchecked Sendable: `text` and `stopping` are read and written only under `lock`; the
    // listening descriptor is set once in init and closed only by the serving thread.
    private let lock = NSLock()
    private var text: String?
    private var stopping = false
    private var started = false
    private let listener: Int32
    /// `host:port` actually bound (port 0 resolved), e.g. `127.0.0.1:9464`.
    public let boundAddress: String

    public static let maxRequestBytes = 8192
    static let ioTimeoutSeconds = 2
    static let connectionBudgetSeconds = 5.0

    public init(address: String, allowRemote: Bool) throws {
        let (host, port) = try Self.parse(address)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let info = result else {
            throw MetricsServerError(isUsage: true, "--metrics: cannot resolve host '\(host)': \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        guard Self.isLoopback(info.pointee.ai_addr) || allowRemote else {
            throw MetricsServerError(isUsage: true,
                "--metrics: \(address) is not a loopback address; metrics are served on 127.0.0.1 or ::1 unless --metrics-allow-remote is given")
        }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError(isUsage: false, "--metrics: socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 16) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw MetricsServerError(isUsage: false, "--metrics: cannot listen on \(address): \(why)")
        }
        listener = fd
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        boundAddress = Self.describe(&storage)
    }

    /// Starts serving on a new thread (once).
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        guard !started else { return }
        started = true
        let thread = Thread { [self] in self.serve() }
        thread.name = "agencybus-metrics"
        thread.start()
    }

    /// Asks the serving thread to stop; it closes the listener within about 250 ms.
    public func stop() {
        lock.lock()
        stopping = true
        let neverStarted = !started
        started = true
        lock.unlock()
        if neverStarted { close(listener) }
    }

    /// Hands over the exposition text the next scrapes get.
    public func publish(_ exposition: String) {
        lock.lock()
        text = exposition
        lock.unlock()
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    private var currentText: String? {
        lock.lock()
        defer { lock.unlock() }
        return text
    }

    // MARK: - Serving

    private func serve() {
        defer { close(listener) }
        while !shouldStop {
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 250)
            if ready <= 0 { continue }  // timeout or EINTR: check the stop flag
            let client = accept(listener, nil, nil)
            if client < 0 { continue }
            handle(client)
            close(client)
        }
    }

    private func handle(_ fd: Int32) {
        var timeout = timeval(tv_sec: Self.ioTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = Date().addingTimeInterval(Self.connectionBudgetSeconds)
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 2048)
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while request.firstRange(of: end) == nil {
            if request.count > Self.maxRequestBytes {
                respond(fd, status: "431 Request Header Fields Too Large", body: "request too large (limit \(Self.maxRequestBytes) bytes)\n")
                return
            }
            if Date() > deadline { return }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }  // closed, or the read timeout passed: nothing to answer
            request += buffer[0..<n]
        }
        let response = Self.route(request, text: currentText)
        respond(fd, status: response.status, body: response.body, head: response.head)
    }

    /// What to answer a request (pure, for tests): status line, body, HEAD or not.
    static func route(_ request: [UInt8], text: String?) -> (status: String, body: String, head: Bool) {
        let firstLine = request.split(separator: UInt8(ascii: "\r"), maxSplits: 1).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let parts = firstLine.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return ("400 Bad Request", "malformed request line\n", false)
        }
        let method = parts[0]
        guard method == "GET" || method == "HEAD" else {
            return ("405 Method Not Allowed", "only GET and HEAD are served\n", false)
        }
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else { return ("404 Not Found", "not found; metrics are at /metrics\n", method == "HEAD") }
        guard let text else { return ("503 Service Unavailable", "metrics not rendered yet; try again in a second\n", method == "HEAD") }
        return ("200 OK", text, method == "HEAD")
    }

    private func respond(_ fd: Int32, status: String, body: String, head: Bool = false) {
        let payload = Array(body.utf8)
        let type = status.hasPrefix("200") ? PrometheusExposition.contentType : "text/plain; charset=utf-8"
        var headers = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n"
        if status.hasPrefix("405") { headers += "Allow: GET, HEAD\r\n" }
        headers += "\r\n"
        var bytes = Array(headers.utf8)
        if !head { bytes += payload }
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }  // peer gone or write timeout
            sent += n
        }
    }

    // MARK: - Addresses

    /// `HOST:PORT` or `[IPv6]:PORT`; port 0 lets the kernel choose (tests).
    public static func parse(_ text: String) throws -> (host: String, port: UInt16) {
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw MetricsServerError(isUsage: true, "--metrics: '\(text)' needs a port, like [::1]:9464") }
            port = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw MetricsServerError(isUsage: true, "--metrics: '\(text)' is not HOST:PORT, like 127.0.0.1:9464")
            }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw MetricsServerError(isUsage: true, "--metrics: '\(text)' has no host; use 127.0.0.1:PORT") }
        guard let p = UInt16(port) else {
            throw MetricsServerError(isUsage: true, "--metrics: port '\(port)' is not a number from 0 to 65535")
        }
        return (String(host), p)
    }

    static func isLoopback(_ address: UnsafeMutablePointer<sockaddr>?) -> Bool {
        guard let address else { return false }
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                UInt32(bigEndian: $0.pointee.sin_addr.s_addr) >> 24 == 127
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p -> Bool in
                let b = withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) }
                let loopback6 = b[0..<15].allSatisfy { $0 == 0 } && b[15] == 1
                let mapped4 = b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xff && b[11] == 0xff && b[12] == 127
                return loopback6 || mapped4
            }
        default:
            return false
        }
    }

    private static func describe(_ storage: inout sockaddr_storage) -> String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, socklen_t(MemoryLayout<sockaddr_storage>.size), &host, socklen_t(host.count),
                            &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard rc == 0 else { return "?" }
        let h = Self.text(host), s = Self.text(service)
        return h.contains(":") ? "[\(h)]:\(s)" : "\(h):\(s)"
    }

    /// A NUL-terminated C buffer as text.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Why the metrics listener cannot start; `isUsage` when the address itself is wrong.
public struct MetricsServerError: Error, CustomStringConvertible {
    public let isUsage: Bool
    public let description: String
    public init(isUsage: Bool, _ description: String) {
        self.isUsage = isUsage
        self.description = description
    }
}
