import Foundation
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Clock and statistics

/// Monotonic seconds (CLOCK_MONOTONIC), comparable across the bench's threads.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Percentile by nearest rank over a sorted copy (p in 0...100).
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

func medianOf(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// A figure measured once per run: the median and the spread of the runs.
struct Figure {
    var values: [Double]
    var median: Double { medianOf(values) }
    var min: Double { values.min() ?? .nan }
    var max: Double { values.max() ?? .nan }
}

/// Formats a number with a sensible number of digits.
func fmt(_ x: Double, _ digits: Int? = nil) -> String {
    guard x.isFinite else { return "n/a" }
    if let digits { return String(format: "%.\(digits)f", x) }
    let a = abs(x)
    if a >= 1000 { return String(format: "%.0f", x) }
    if a >= 100 { return String(format: "%.0f", x) }
    if a >= 10 { return String(format: "%.1f", x) }
    if a >= 1 { return String(format: "%.2f", x) }
    return String(format: "%.3f", x)
}

/// Progress goes to stderr; stdout carries the table.
func say(_ s: String) {
    FileHandle.standardError.write(Data("[bench \(String(format: "%7.1f", now() - benchStart)) s] \(s)\n".utf8))
}

let benchStart = now()

/// A lock-protected value for the bench's worker threads.
// @unchecked Sendable: every access goes through `lock`.
final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func with<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var get: T { with { $0 } }
}

/// Runs `body` on a new thread (blocking ZeroMQ polls and SQLite do not belong on Swift's
/// cooperative pool); `join()` waits for it and rethrows what it threw.
final class Worker: @unchecked Sendable {
    // @unchecked Sendable: `result` is written once by the thread, read after `done` signals.
    private let done = DispatchSemaphore(value: 0)
    private var error: Error?
    private var finished = false
    init(_ name: String, _ body: @escaping @Sendable () throws -> Void) {
        let t = Thread { [self] in
            do { try body() } catch { self.error = error }
            self.finished = true
            self.done.signal()
        }
        t.name = name
        t.stackSize = 1 << 20
        t.start()
    }
    func join() throws {
        done.wait()
        if let error { throw error }
    }
}

// MARK: - Processes

/// Resident set size of a process in bytes (/proc/PID/status VmRSS), nil when gone.
func residentBytes(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        return kb.map { $0 * 1024 }
    }
    return nil
}

/// Output of a short command (for versions), or nil.
func commandOutput(_ path: String, _ args: [String]) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A TCP port nothing listens on right now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchFailure("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw BenchFailure("bind: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// True once something accepts TCP connections on 127.0.0.1:`port`.
func tcpListening(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let r = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return r == 0
}

/// Words letters are made of, so that searches have realistic selectivity: each letter has
/// two of 20 topics (a topic is in about 1 letter in 10), one of 100 regions, and a file
/// token `berkasN` shared by 1 letter in 20,000.
enum Vocabulary {
    static let topics = ["anggaran", "rapat", "koordinasi", "pengadaan", "kepegawaian", "undangan", "laporan", "evaluasi",
                         "perjalanan", "pelatihan", "sosialisasi", "inspeksi", "pembangunan", "kesehatan", "pendidikan",
                         "bencana", "infrastruktur", "perizinan", "pajak", "kearsipan"]
    static func region(_ k: Int) -> String { "wilayah\(k % 100)" }

    static func subject(seed: Int) -> String {
        "Surat \(topics[seed % 20]) dan \(topics[(seed / 20 + 7) % 20]) \(region(seed / 7))"
    }

    static func body(bytes: Int, seed: Int) -> String {
        let line = "Dengan hormat, bersama ini kami sampaikan surat perihal \(topics[seed % 20]) di \(region(seed / 7)) "
            + "dengan nomor berkas berkas\(seed % 20_000) untuk ditindaklanjuti sebagaimana mestinya. "
        var text = ""
        text.reserveCapacity(bytes + line.utf8.count)
        while text.utf8.count < bytes { text += line }
        return text
    }
}
