import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import AgencyBus

// Prometheus exposition (pure renderer), the metrics HTTP listener (in process, real sockets)
// and the Grafana dashboard against the metric names. OpsIntegrationTests scrapes a real broker
// with the same parser.

// MARK: - A small parser for the Prometheus text format 0.0.4

struct PromSample: Equatable {
    let name: String
    let labels: [String: String]
    let value: Double
}

struct PromFamily {
    let name: String
    var type: String?
    var help: String?
    var samples: [PromSample] = []
}

struct PromError: Error, CustomStringConvertible {
    let description: String
    init(_ line: Int, _ text: String) { description = "line \(line): \(text)" }
}

/// Parses and checks exposition text: every sample belongs to a family announced by HELP and
/// TYPE lines before it, names and labels are well formed, label values unescape, values are
/// numbers, series are unique, counters end in `_total`, and every histogram has `le`
/// buckets in increasing order with non-decreasing counts, a `+Inf` bucket equal to `_count`,
/// and a `_sum`.
enum PromParser {
    static let types: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped"]

    static func parse(_ text: String) throws -> [String: PromFamily] {
        guard text.hasSuffix("\n") else { throw PromError(0, "the text must end with a line feed") }
        var families: [String: PromFamily] = [:]
        var order: [String] = []
        var seen = Set<String>()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let n = i + 1
            let line = String(raw)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else { continue }  // a comment
                let name = parts[2]
                guard isMetricName(name) else { throw PromError(n, "bad metric name '\(name)'") }
                var f = families[name] ?? PromFamily(name: name)
                if families[name] == nil { order.append(name) }
                guard f.samples.isEmpty else { throw PromError(n, "\(parts[1]) for \(name) after its samples") }
                if parts[1] == "HELP" {
                    guard f.help == nil else { throw PromError(n, "second HELP for \(name)") }
                    f.help = parts.count > 3 ? parts[3] : ""
                } else {
                    guard f.type == nil else { throw PromError(n, "second TYPE for \(name)") }
                    guard parts.count == 4, types.contains(parts[3]) else { throw PromError(n, "bad TYPE line") }
                    f.type = parts[3]
                }
                families[name] = f
                continue
            }
            let sample = try parseSample(line, n)
            let family = familyName(of: sample.name, families)
            guard var f = families[family], f.type != nil, f.help != nil else {
                throw PromError(n, "sample \(sample.name) has no HELP and TYPE before it")
            }
            let key = sample.name + "{" + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
            guard seen.insert(key).inserted else { throw PromError(n, "duplicate series \(key)") }
            f.samples.append(sample)
            families[family] = f
        }
        for name in order {
            let f = families[name]!  // from `order`, built from the dictionary
            if f.type == "counter" && !name.hasSuffix("_total") { throw PromError(0, "counter \(name) does not end in _total") }
            if f.type == "histogram" { try checkHistogram(f) }
        }
        return families
    }

    static func familyName(of sample: String, _ families: [String: PromFamily]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where sample.hasSuffix(suffix) {
            let base = String(sample.dropLast(suffix.count))
            if families[base]?.type == "histogram" || families[base]?.type == "summary" { return base }
        }
        return sample
    }

    static func isMetricName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || first == ":" || (first.isASCII && CharacterSet.letters.contains(first)) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || $0 == ":" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    static func parseSample(_ line: String, _ n: Int) throws -> PromSample {
        let chars = Array(line.unicodeScalars)
        var i = 0
        while i < chars.count, chars[i] != "{", chars[i] != " " { i += 1 }
        let name = String(String.UnicodeScalarView(chars[0..<i]))
        guard isMetricName(name) else { throw PromError(n, "bad metric name '\(name)'") }
        var labels: [String: String] = [:]
        if i < chars.count, chars[i] == "{" {
            i += 1
            while true {
                guard i < chars.count else { throw PromError(n, "unterminated label set") }
                if chars[i] == "}" { i += 1; break }
                var j = i
                while j < chars.count, chars[j] != "=" { j += 1 }
                let label = String(String.UnicodeScalarView(chars[i..<j]))
                guard isMetricName(label), !label.contains(":"), j + 1 < chars.count, chars[j + 1] == "\"" else {
                    throw PromError(n, "bad label '\(label)'")
                }
                j += 2
                var value = ""
                while true {
                    guard j < chars.count else { throw PromError(n, "unterminated label value") }
                    let c = chars[j]
                    if c == "\"" { j += 1; break }
                    if c == "\\" {
                        guard j + 1 < chars.count else { throw PromError(n, "dangling escape") }
                        switch chars[j + 1] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw PromError(n, "bad escape \\\(chars[j + 1])")
                        }
                        j += 2
                        continue
                    }
                    guard c != "\n" else { throw PromError(n, "raw line feed in a label value") }
                    value.unicodeScalars.append(c)
                    j += 1
                }
                guard labels[label] == nil else { throw PromError(n, "label \(label) twice") }
                labels[label] = value
                if j < chars.count, chars[j] == "," { j += 1 }
                i = j
            }
        }
        guard i < chars.count, chars[i] == " " else { throw PromError(n, "no space before the value") }
        let rest = String(String.UnicodeScalarView(chars[(i + 1)...])).split(separator: " ")
        guard rest.count == 1 || rest.count == 2 else { throw PromError(n, "expected a value and an optional timestamp") }
        let text = String(rest[0])
        let value: Double
        switch text {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let v = Double(text) else { throw PromError(n, "value '\(text)' is not a number") }
            value = v
        }
        if rest.count == 2, Int64(rest[1]) == nil { throw PromError(n, "timestamp '\(rest[1])' is not an integer") }
        return PromSample(name: name, labels: labels, value: value)
    }

    static func checkHistogram(_ f: PromFamily) throws {
        var groups: [String: [(le: Double, count: Double)]] = [:]
        var counts: [String: Double] = [:]
        var sums = Set<String>()
        func key(_ labels: [String: String]) -> String {
            labels.filter { $0.key != "le" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
        for s in f.samples {
            if s.name == f.name + "_bucket" {
                guard let leText = s.labels["le"] else { throw PromError(0, "\(f.name) bucket without le") }
                let le = leText == "+Inf" ? Double.infinity : Double(leText)
                guard let le else { throw PromError(0, "\(f.name) le '\(leText)' is not a number") }
                groups[key(s.labels), default: []].append((le, s.value))
            } else if s.name == f.name + "_count" {
                counts[key(s.labels)] = s.value
            } else if s.name == f.name + "_sum" {
                sums.insert(key(s.labels))
            } else {
                throw PromError(0, "\(s.name) does not belong in histogram \(f.name)")
            }
        }
        guard !groups.isEmpty else { throw PromError(0, "histogram \(f.name) has no buckets") }
        for (k, buckets) in groups {
            for (a, b) in zip(buckets, buckets.dropFirst()) {
                guard a.le < b.le else { throw PromError(0, "\(f.name){\(k)} buckets not in increasing le order") }
                guard a.count <= b.count else { throw PromError(0, "\(f.name){\(k)} bucket counts decrease at le=\(b.le)") }
            }
            guard let last = buckets.last, last.le == .infinity else { throw PromError(0, "\(f.name){\(k)} has no +Inf bucket") }
            guard counts[k] == last.count else { throw PromError(0, "\(f.name){\(k)} +Inf bucket \(last.count) != _count \(counts[k] ?? -1)") }
            guard sums.contains(k) else { throw PromError(0, "\(f.name){\(k)} has no _sum") }
        }
    }
}

extension Dictionary where Key == String, Value == PromFamily {
    /// The value of the sample `name` with exactly `labels`, if any.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        for f in values { if let s = f.samples.first(where: { $0.name == name && $0.labels == labels }) { return s.value } }
        return nil
    }
}

// MARK: - A tiny HTTP client (blocking, with timeouts)

struct HTTPAnswer {
    let status: Int
    let headers: [String: String]
    let body: String
}

/// Sends `request` raw to host:port and reads the whole answer (the server closes). Every read
/// and write has a 5 s timeout.
func httpExchange(host: String = "127.0.0.1", port: Int, request: [UInt8]) throws -> HTTPAnswer {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr(host)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw HarnessError("connect \(host):\(port): errno \(errno)") }
    var sent = 0
    while sent < request.count {
        let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { break }  // the server may close early (e.g. an oversized request); read its answer
        sent += n
    }
    var answer = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        answer += buffer[0..<n]
    }
    let text = String(decoding: answer, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { throw HarnessError("no HTTP header end in: \(text.prefix(200))") }
    let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
    let statusParts = head[0].split(separator: " ")
    guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw HarnessError("bad status line \(head[0])") }
    var headers: [String: String] = [:]
    for h in head.dropFirst() {
        if let colon = h.firstIndex(of: ":") {
            headers[h[..<colon].lowercased()] = h[h.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return HTTPAnswer(status: status, headers: headers, body: String(text[split.upperBound...]))
}

func httpGet(port: Int, path: String) throws -> HTTPAnswer {
    try httpExchange(port: port, request: Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
}

// MARK: - Tests

@Suite("Metrics (Prometheus)")
struct MetricsTests {
    /// A snapshot with traffic of every kind, including a refusal code that needs escaping.
    static func busySnapshot() -> BrokerStatsSnapshot {
        let t0 = Timestamp(milliseconds: 1_796_000_000_000)
        var stats = BrokerStats(startedAt: t0)
        func at(_ s: Int64) -> Timestamp { Timestamp(milliseconds: t0.milliseconds + s * 1000) }
        for i in 0..<5 { stats.record(BrokerEvent(ts: at(Int64(i)), kind: .accepted, agency: "kemenpanrb", id: MessageID.generate(), messageKind: "letter")) }
        for (i, ms) in [12, 340, 2_500, 7_200_000].enumerated() {
            stats.record(BrokerEvent(ts: at(Int64(10 + i)), kind: .delivered, agency: "bappenas", latencyMs: Int64(ms)))
        }
        stats.record(BrokerEvent(ts: at(20), kind: .refused, agency: "anri", code: "bad-signature"))
        stats.record(BrokerEvent(ts: at(21), kind: .refused, code: "we\"ird\\code\nx"))
        stats.received(bytes: 12_345)
        stats.sent(bytes: 67_890)
        return stats.snapshot(now: at(30), .init(
            broker: "nasional", endpoint: "tcp://127.0.0.1:7450", agencies: ["anri", "bappenas", "kemenpanrb"],
            sessions: [.init(agency: "bappenas", since: at(5), peer: "10.0.0.7", inFlight: 2)],
            queue: [.init(recipient: "anri", depth: 2, oldestAcceptedAt: at(3).milliseconds)],
            storeBytes: 81_920, watching: 1))
    }

    @Test func theExpositionParsesAndCarriesTheFigures() throws {
        let text = PrometheusExposition.render(Self.busySnapshot())
        let families = try PromParser.parse(text)
        for name in PrometheusExposition.familyNames {
            #expect(families[name]?.type != nil, "family \(name) missing\n\(text)")
        }
        #expect(families.value("agencybus_messages_accepted_total", ["agency": "kemenpanrb"]) == 5)
        #expect(families.value("agencybus_messages_delivered_total", ["agency": "bappenas"]) == 4)
        #expect(families.value("agencybus_queue_depth", ["agency": "anri"]) == 2)
        #expect(families.value("agencybus_queue_depth", ["agency": "bappenas"]) == 0)
        #expect(families.value("agencybus_oldest_undelivered_seconds", ["agency": "anri"]) == 27)
        #expect(families.value("agencybus_connected_nodes") == 1)
        #expect(families.value("agencybus_node_connected", ["agency": "bappenas"]) == 1)
        #expect(families.value("agencybus_deliveries_in_flight") == 2)
        #expect(families.value("agencybus_refused_total", ["reason": "bad-signature"]) == 1)
        #expect(families.value("agencybus_refused_total", ["reason": "forbidden"]) == 0)
        // The label value came back exactly through the escapes.
        #expect(families.value("agencybus_refused_total", ["reason": "we\"ird\\code\nx"]) == 1)
        #expect(families.value("agencybus_agency_refused_total", ["agency": "anri"]) == 1)
        #expect(families.value("agencybus_received_bytes_total") == 12_345)
        #expect(families.value("agencybus_sent_bytes_total") == 67_890)
        #expect(families.value("agencybus_store_bytes") == 81_920)
        #expect(families.value("agencybus_delivery_latency_seconds_count") == 4)
        #expect(families.value("agencybus_delivery_latency_seconds_bucket", ["le": "0.025"]) == 1)
        #expect(families.value("agencybus_delivery_latency_seconds_bucket", ["le": "0.5"]) == 2)
        #expect(families.value("agencybus_delivery_latency_seconds_bucket", ["le": "5"]) == 3)
        #expect(families.value("agencybus_delivery_latency_seconds_bucket", ["le": "3600"]) == 3)
        #expect(families.value("agencybus_delivery_latency_seconds_bucket", ["le": "+Inf"]) == 4)
        #expect(families.value("agencybus_delivery_latency_seconds_sum") == 7_202.852)
        #expect(families["agencybus_delivery_latency_seconds"]?.type == "histogram")
        #expect(families["agencybus_messages_accepted_total"]?.type == "counter")
        #expect(families["agencybus_queue_depth"]?.type == "gauge")
    }

    @Test func anEmptyBrokerStillRendersValidText() throws {
        let empty = BrokerStats(startedAt: .now()).snapshot(now: .now(), .init(
            broker: "nasional", endpoint: "tcp://127.0.0.1:7450", agencies: [], sessions: [], queue: [], storeBytes: 0, watching: 0))
        let families = try PromParser.parse(PrometheusExposition.render(empty))
        #expect(families.value("agencybus_delivery_latency_seconds_bucket", ["le": "+Inf"]) == 0)
        #expect(families["agencybus_delivery_latency_window_seconds"]?.samples.isEmpty == true)
    }

    @Test func theParserCatchesBrokenText() {
        let broken = [
            "agencybus_x 1\n",                                                          // no HELP/TYPE
            "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"v} 1\n",             // unterminated
            "# HELP a x\n# TYPE a counter\na 1\n",                                      // counter without _total
            "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",  // decreasing
            "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",  // +Inf != count
            "# HELP g x\n# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"1\"} 2\n",                  // duplicate
            "# HELP g x\n# TYPE g gauge\ng one\n",                                      // not a number
        ]
        for text in broken {
            #expect(throws: PromError.self, "accepted: \(text)") { try PromParser.parse(text) }
        }
    }

    @Test func labelValuesAreEscaped() {
        #expect(PrometheusExposition.escapeLabel("a\\b\"c\nd") == "a\\\\b\\\"c\\nd")
        #expect(PrometheusExposition.escapeHelp("x\\y\nz") == "x\\\\y\\nz")
    }

    // MARK: Listener

    @Test func theListenerServesMetricsAndNothingElse() throws {
        let server = try MetricsServer(address: "127.0.0.1:0", allowRemote: false)
        defer { server.stop() }
        let port = try #require(Int(server.boundAddress.split(separator: ":").last ?? ""))
        #expect(server.boundAddress.hasPrefix("127.0.0.1:"))
        server.start()
        #expect(try httpGet(port: port, path: "/metrics").status == 503, "nothing rendered yet")
        let text = PrometheusExposition.render(Self.busySnapshot())
        server.publish(text)

        let ok = try httpGet(port: port, path: "/metrics")
        #expect(ok.status == 200)
        #expect(ok.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(ok.headers["content-length"] == String(text.utf8.count))
        #expect(ok.body == text)
        #expect(try httpGet(port: port, path: "/metrics?x=1").status == 200)
        #expect(try httpGet(port: port, path: "/").status == 404)
        #expect(try httpGet(port: port, path: "/metrics/../etc").status == 404)
        let post = try httpExchange(port: port, request: Array("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n".utf8))
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        let head = try httpExchange(port: port, request: Array("HEAD /metrics HTTP/1.1\r\n\r\n".utf8))
        #expect(head.status == 200 && head.body.isEmpty)
        let garbage = try httpExchange(port: port, request: Array("HELLO\r\n\r\n".utf8))
        #expect(garbage.status == 400)
        let huge = try httpExchange(port: port, request: Array(("GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000)).utf8))
        #expect(huge.status == 431)
        // Still serving after all that.
        #expect(try httpGet(port: port, path: "/metrics").status == 200)
    }

    @Test func onlyLoopbackUnlessAllowed() throws {
        for address in ["0.0.0.0:0", "[::]:0"] {
            do {
                _ = try MetricsServer(address: address, allowRemote: false)
                Issue.record("\(address) was accepted without allowRemote")
            } catch let e as MetricsServerError {
                #expect(e.isUsage)
                #expect(e.description.contains("loopback") && e.description.contains("--metrics-allow-remote"), "\(e)")
            }
        }
        let remote = try MetricsServer(address: "0.0.0.0:0", allowRemote: true)
        remote.stop()
        for address in ["localhost:0", "127.0.0.5:0"] {
            let s = try MetricsServer(address: address, allowRemote: false)
            s.stop()
        }
    }

    @Test func addressesAreCheckedWithClearErrors() throws {
        let v4 = try MetricsServer.parse("127.0.0.1:9464")
        #expect(v4.host == "127.0.0.1" && v4.port == 9464)
        let v6 = try MetricsServer.parse("[::1]:9464")
        #expect(v6.host == "::1" && v6.port == 9464)
        for (bad, says) in [("127.0.0.1", "HOST:PORT"), ("127.0.0.1:http", "port 'http'"), (":9464", "no host"),
                            ("127.0.0.1:70000", "0 to 65535"), ("[::1]", "needs a port")] {
            do {
                _ = try MetricsServer.parse(bad)
                Issue.record("'\(bad)' was accepted")
            } catch let e as MetricsServerError {
                #expect(e.isUsage && e.description.contains(says), "\(bad): \(e)")
            }
        }
    }

    // MARK: Grafana

    @Test func theDashboardQueriesOnlyMetricsTheBrokerExports() throws {
        let path = Fixtures.packageRoot.appendingPathComponent("deploy/grafana-dashboard.json").path
        let data = try #require(FileManager.default.contents(atPath: path), "deploy/grafana-dashboard.json is missing")
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        #expect(panels.count >= 6)
        let exprs = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(exprs.count >= panels.count - 1)
        let known = Set(PrometheusExposition.familyNames)
        let regex = try NSRegularExpression(pattern: "agencybus_[a-z_]+")
        var used = Set<String>()
        for expr in exprs {
            for m in regex.matches(in: expr, range: NSRange(expr.startIndex..., in: expr)) {
                var name = String(expr[Range(m.range, in: expr)!])  // the range came from this string
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && !known.contains(name) {
                    name = String(name.dropLast(suffix.count))
                }
                #expect(known.contains(name), "\(name) in \(expr) is not exported")
                used.insert(name)
            }
        }
        for required in ["agencybus_messages_accepted_total", "agencybus_messages_delivered_total", "agencybus_queue_depth",
                         "agencybus_oldest_undelivered_seconds", "agencybus_connected_nodes", "agencybus_refused_total",
                         "agencybus_delivery_latency_seconds"] {
            #expect(used.contains(required), "the dashboard has no panel over \(required)")
        }
    }
}
