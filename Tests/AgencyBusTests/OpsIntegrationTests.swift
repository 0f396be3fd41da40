import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import AgencyBus

// Ops with real processes: an operator identity, `bus-cli stats/tail/watch` against a real
// `bus-broker`, the Prometheus endpoint scraped over HTTP, `watch` inside a pseudo-terminal
// (tmux), logs without letter content, and the systemd units checked by systemd-analyze.

private let sender = "kemenpanrb"

/// A harness bus with an operator (and optionally a second one granted content), started.
private struct OpsBus {
    let h: Harness
    let ops: String
    let audit: String?
    let metricsPort: Int?
}

private func opsBus(agencies: [String], auditor: Bool = false, metrics: Bool = false) async throws -> OpsBus {
    let h = try await Harness(agencies: agencies, startBroker: false)
    let ops = h.directory.file("ops")
    let made = try await h.cli(["init", "--operator", ops, "--id", "ops-nasional", "--topology", h.topologyPath])
    guard made.exitCode == 0, made.lines.count == 1, let key = made.lines.first, key.hasPrefix("ed25519:") else {
        throw HarnessError("bus-cli init --operator failed: \(made)")
    }
    try await h.setTopology(["--operator", "ops-nasional", "--public-key", key])
    var audit: String?
    if auditor {
        var t = try Topology.load(path: h.topologyPath)
        t.operators.append(.init(id: "ops-audit", publicKey: "", content: true))
        try t.write(path: h.topologyPath)
        let dir = h.directory.file("audit")
        let r = try await h.cli(["init", "--operator", dir, "--id", "ops-audit", "--topology", h.topologyPath])
        guard r.exitCode == 0, let k = r.lines.first else { throw HarnessError("init ops-audit failed: \(r)") }
        try await h.setTopology(["--operator", "ops-audit", "--public-key", k])
        audit = dir
    }
    let metricsFile = h.directory.file("metrics.addr")
    try await h.startBroker(extraArguments: metrics ? ["--metrics", "127.0.0.1:0", "--metrics-ready-file", metricsFile] : [])
    var port: Int?
    if metrics {
        let text = try String(contentsOfFile: metricsFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        port = Int(text.split(separator: ":").last ?? "")
        guard port != nil else { throw HarnessError("metrics ready file says '\(text)'") }
    }
    return OpsBus(h: h, ops: ops, audit: audit, metricsPort: port)
}

private func sendAccepted(_ h: Harness, from: String = sender, to: String, subject: String, body: String = "Dengan hormat.",
                          extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    let r = try await h.send(from: from, to: to, subject: subject, body: body, extra: extra)
    let o = try #require(try r.json().first, "\(r)", sourceLocation: sourceLocation)
    #expect(r.exitCode == 0 && o["status"] as? String == "accepted", "\(r)\n\(h.brokerLog)", sourceLocation: sourceLocation)
    return try #require(o["id"] as? String, sourceLocation: sourceLocation)
}

private func stats(_ b: OpsBus) async throws -> BrokerStatsSnapshot {
    let r = try await b.h.cli(["stats", "--operator", b.ops, "--json", "--timeout", "5"])
    guard r.exitCode == 0 else { throw HarnessError("stats failed: \(r)") }
    return try BrokerStatsSnapshot.decode(Data(r.stdout.utf8))
}

/// Polls `bus-cli stats` until `ready` holds (the queue summary may lag a commit by up to
/// 250 ms); throws with the last snapshot on timeout.
private func waitForStats(_ b: OpsBus, timeout: Double = 15, _ ready: (BrokerStatsSnapshot) -> Bool) async throws -> BrokerStatsSnapshot {
    let deadline = Date().addingTimeInterval(timeout)
    var last: BrokerStatsSnapshot?
    while Date() < deadline {
        let s = try await stats(b)
        if ready(s) { return s }
        last = s
        try await Task.sleep(nanoseconds: 200_000_000)
    }
    throw HarnessError("stats never reached the expected state; last: \(String(decoding: last?.json() ?? Data(), as: UTF8.self))\n\(b.h.brokerLog)")
}

private func scrape(_ port: Int) throws -> [String: PromFamily] {
    let answer = try httpGet(port: port, path: "/metrics")
    guard answer.status == 200 else { throw HarnessError("GET /metrics → \(answer.status): \(answer.body)") }
    return try PromParser.parse(answer.body)
}

/// Waits until `condition` holds, checking every 100 ms; false on timeout.
private func eventually(timeout: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(nanoseconds: 100_000_000)
    }
    return try await condition()
}

/// An in-process CURVE client with any key (agency or operator).
private func client(_ b: OpsBus, keyFile: String) throws -> BrokerClient {
    let topology = try Topology.load(path: b.h.topologyPath)
    let brokerKey = try PublicKey(text: try #require(topology.broker(b.h.brokerID)).publicKey)
    return try BrokerClient(endpoint: b.h.endpoint, brokerKey: brokerKey, identity: try KeyFile.load(at: keyFile))
}

/// The first broker command `matching` within `timeout`, skipping others.
private func next(_ c: BrokerClient, timeout: Double = 5, matching: (BrokerCommand) -> Bool = { _ in true }) async throws -> BrokerCommand? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let command = try c.receive(timeoutMs: 100), matching(command) { return command }
        await Task.yield()
    }
    return nil
}

/// Runs a program to completion with its own environment; output to files, killed after `timeout`.
private func runProgram(_ path: String, _ arguments: [String], environment: [String: String], in logs: URL,
                        timeout: Double = 10) async throws -> (status: Int32, stdout: String, stderr: String) {
    let r = try await SpawnedProgram.run(path, arguments, environment: environment, outputIn: logs, timeout: timeout)
    return (r.status, r.stdout, r.stderr)
}

private func which(_ program: String) -> String? {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(program)") {
        return "\(dir)/\(program)"
    }
    return nil
}

@Suite("Ops (integration)", .timeLimit(.minutes(3)))
struct OpsIntegrationTests {
    // MARK: Counters

    @Test func countersMatchAKnownTrafficPattern() async throws {
        let b = try await opsBus(agencies: [sender, "bappenas", "anri"], metrics: true)
        defer { b.h.shutdown() }
        let n = 3, m = 2
        let subscription = try b.h.subscribe("bappenas")   // A is online...
        for i in 0..<n { _ = try await sendAccepted(b.h, to: "bappenas", subject: "Surat untuk A \(i)") }
        for i in 0..<m { _ = try await sendAccepted(b.h, to: "anri", subject: "Surat untuk B \(i)") }  // ...B is not
        _ = try await subscription.waitForLines(n, timeout: 15)

        let s = try await waitForStats(b) { $0.totals.delivered >= n && $0.agency("bappenas")?.queued == 0 }
        #expect(s.totals.accepted == n + m)
        #expect(s.agency(sender)?.accepted == n + m)
        #expect(s.totals.delivered == n)
        #expect(s.agency("bappenas")?.delivered == n)
        #expect(s.agency("anri")?.delivered == 0)
        #expect(s.agency("anri")?.queued == m)
        #expect((s.agency("anri")?.oldestAgeSeconds ?? 0) > 0)
        #expect(s.agency("anri")?.connected == false)
        #expect(s.agency("bappenas")?.connected == true)
        #expect(s.agency("bappenas")?.since != nil && s.agency("bappenas")?.peer != nil)
        #expect(s.totals.refused == 0 && s.totals.rejected == 0)
        #expect(s.connectedNodes == 1)
        #expect(s.latency.count == n && s.latency.samples == n && s.latency.p50Ms != nil)
        #expect(s.totals.bytesIn > 0 && s.totals.bytesOut > 0 && s.storeBytes > 0)
        // The problems (B offline with mail; the sender, offline too, has receipts waiting)
        // are listed before the healthy A.
        let order = s.agenciesByProblem.map(\.id)
        #expect(s.agenciesByProblem.first?.problemTier == 0, "\(order)")
        #expect(s.agency("anri")?.problemTier == 0)
        #expect(order.firstIndex(of: "anri")! < order.firstIndex(of: "bappenas")!, "\(order)")

        // The same figures on the Prometheus endpoint (re-rendered about once a second).
        let port = try #require(b.metricsPort)
        var families: [String: PromFamily] = [:]
        let scraped = try await eventually(timeout: 10) {
            families = try scrape(port)
            return families.value("agencybus_messages_delivered_total", ["agency": "bappenas"]) == Double(n)
                && families.value("agencybus_queue_depth", ["agency": "anri"]) == Double(m)
        }
        #expect(scraped, "metrics never showed the traffic")
        #expect(families.value("agencybus_messages_accepted_total", ["agency": sender]) == Double(n + m))
        #expect(families.value("agencybus_queue_depth", ["agency": "bappenas"]) == 0)
        #expect((families.value("agencybus_oldest_undelivered_seconds", ["agency": "anri"]) ?? 0) > 0)
        #expect(families.value("agencybus_connected_nodes") == 1)
        #expect(families.value("agencybus_delivery_latency_seconds_count") == Double(n))
        #expect(families.value("agencybus_delivery_latency_seconds_bucket", ["le": "+Inf"]) == Double(n))
        #expect(families.value("agencybus_refused_total", ["reason": "forbidden"]) == 0)
        #expect(try httpGet(port: port, path: "/").status == 404)

        // The human form of the same snapshot.
        let human = try await b.h.cli(["stats", "--operator", b.ops])
        #expect(human.exitCode == 0, "\(human)")
        #expect(human.lines.first?.hasPrefix("AgencyBus broker nasional") == true, "\(human)")
        let rows = human.lines.drop { !$0.hasPrefix("AGENCY") }.dropFirst()
        #expect(rows.first?.contains("DOWN") == true, "\(human)")
        #expect(rows.contains { $0.hasPrefix("anri") && $0.contains("DOWN") }, "\(human)")
        await subscription.stop()
    }

    // MARK: Who may watch

    @Test func onlyOperatorKeysGetTheOperatorStream() async throws {
        let b = try await opsBus(agencies: [sender, "bappenas"])
        defer { b.h.shutdown() }

        // An agency's key: STATS and WATCH are refused 'forbidden', and no stream follows.
        let agency = try client(b, keyFile: NodeConfig.keyPath(in: b.h.node(sender)))
        for command in [ClientCommand.stats, .watch] {
            try agency.send(command)
            let answer = try await next(agency) { if case .refused = $0 { return true } else { return false } }
            guard case .refused(let id, let code, let reason)? = answer else {
                Issue.record("no REFUSED for \(command.name): \(String(describing: answer))\n\(b.h.brokerLog)")
                continue
            }
            #expect(id == "-" && code == .forbidden, "\(reason)")
            #expect(reason.contains("operators") && reason.contains(sender), "\(reason)")
        }
        _ = try await sendAccepted(b.h, from: "bappenas", to: sender, subject: "Balasan")
        let leaked = try await next(agency, timeout: 2.5) {
            switch $0 { case .stats, .event: return true; default: return false }
        }
        #expect(leaked == nil, "an agency connection received \(String(describing: leaked))")

        // The operator's key: PING says whether the stream is open; SUBSCRIBE stays forbidden.
        let op = try client(b, keyFile: OperatorConfig.keyPath(in: b.ops))
        try op.send(.ping)
        guard case .pong(.notSubscribed)? = try await next(op, matching: { if case .pong = $0 { return true } else { return false } }) else {
            Issue.record("operator PING not answered PONG 0"); return
        }
        try op.send(.watch)
        guard case .stats(let json)? = try await next(op, matching: { if case .stats = $0 { return true } else { return false } }) else {
            Issue.record("WATCH not answered with STATS\n\(b.h.brokerLog)"); return
        }
        #expect(try BrokerStatsSnapshot.decode(json).operators.watching == 1)
        try op.send(.ping)
        guard case .pong(.subscribed)? = try await next(op, matching: { if case .pong = $0 { return true } else { return false } }) else {
            Issue.record("operator PING on a stream not answered PONG 1"); return
        }
        try op.send(.subscribe)
        guard case .refused(_, .forbidden, _)? = try await next(op, matching: { if case .refused = $0 { return true } else { return false } }) else {
            Issue.record("operator SUBSCRIBE not refused"); return
        }
        // The refusals above are counted, by code and by agency.
        let s = try await stats(b)
        #expect(s.refusedByReason["forbidden"] == 3)
        #expect(s.agency(sender)?.refused == 2 && (s.agency(sender)?.refusedLastMinute ?? 0) == 2)

        // A key the broker's topology does not list gets no answer at all (ZAP refuses it).
        let stranger = b.h.directory.file("stranger")
        let made = try await b.h.cli(["init", "--operator", stranger, "--id", "ops-nasional", "--topology", b.h.topologyPath])
        #expect(made.exitCode == 0, "\(made)")
        let refused = try await b.h.cli(["stats", "--operator", stranger, "--timeout", "2"])
        #expect(refused.exitCode == 69, "\(refused)")
        #expect(refused.stderr.contains("did not answer") && refused.stderr.contains(made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)),
                "\(refused)")
    }

    // MARK: tail

    @Test func tailStreamsMetadataUnlessTheOperatorIsGrantedContent() async throws {
        let b = try await opsBus(agencies: [sender, "bappenas", "anri"], auditor: true)
        defer { b.h.shutdown() }
        let audit = try #require(b.audit)
        let meta = try b.h.startCLI(["tail", "--operator", b.ops, "--json"])
        let full = try b.h.startCLI(["tail", "--operator", audit, "--json"])
        let anriOnly = try b.h.startCLI(["tail", "--operator", b.ops, "--agency", "anri"])
        let opened = await eventually(timeout: 10) { b.h.brokerLog.components(separatedBy: "operator stream opened").count - 1 >= 3 }
        #expect(opened, "the tails did not open their streams\n\(b.h.brokerLog)")

        let subject = "Perihal-\(UUID().uuidString)"
        let body = "Isi-\(UUID().uuidString)"
        let id = try await sendAccepted(b.h, to: "bappenas", subject: subject, body: body)
        let anriID = try await sendAccepted(b.h, from: "anri", to: "bappenas", subject: "Surat ANRI")
        // An agency asking for STATS is a refusal every operator sees (metadata).
        let agency = try client(b, keyFile: NodeConfig.keyPath(in: b.h.node(sender)))
        try agency.send(.stats)

        func events(_ child: ChildProcess) throws -> [[String: Any]] { try parseJSONLines(child.lines.joined(separator: "\n")) }
        let complete = try await eventually(timeout: 10) {
            try events(meta).contains { $0["kind"] as? String == "refused" } && events(full).contains { $0["kind"] as? String == "refused" }
                && anriOnly.lines.contains { $0.contains(anriID) }
        }
        #expect(complete, "meta:\n\(meta.stdout)\nfull:\n\(full.stdout)\nanri:\n\(anriOnly.stdout)\n\(b.h.brokerLog)")

        let accepted = try #require(try events(meta).first { $0["kind"] as? String == "accepted" && $0["id"] as? String == id })
        #expect(accepted["from"] as? String == sender)
        #expect(accepted["to"] as? [String] == ["bappenas"])
        #expect(accepted["messageKind"] as? String == "letter")
        #expect(accepted["agency"] as? String == sender)
        #expect((accepted["bytes"] as? Int ?? 0) > 0)
        #expect(accepted["subject"] == nil && accepted["body"] == nil)
        #expect(!meta.stdout.contains(subject) && !meta.stdout.contains(body), "metadata-only stream carried content")
        let refusal = try #require(try events(meta).first { $0["kind"] as? String == "refused" })
        #expect(refusal["code"] as? String == "forbidden" && refusal["agency"] as? String == sender)

        let granted = try #require(try events(full).first { $0["kind"] as? String == "accepted" && $0["id"] as? String == id })
        #expect(granted["subject"] as? String == subject && granted["body"] as? String == body)

        #expect(anriOnly.lines.allSatisfy { $0.contains("anri") }, "\(anriOnly.stdout)")
        #expect(!anriOnly.stdout.contains(id))

        // Operators trace any letter; only the one granted content sees its subject.
        let routeOnly = try await b.h.cli(["trace", "--operator", b.ops, id, "--json"])
        #expect(routeOnly.exitCode == 0, "\(routeOnly)")
        #expect(routeOnly.stdout.contains(id) && routeOnly.stdout.contains("bappenas"), "\(routeOnly)")
        #expect(!routeOnly.stdout.contains(subject), "an operator without the content grant saw the subject: \(routeOnly)")
        let withContent = try await b.h.cli(["trace", "--operator", audit, id, "--json"])
        #expect(withContent.exitCode == 0 && withContent.stdout.contains(subject), "\(withContent)")
        let both = try await b.h.cli(["trace", "--operator", b.ops, "--node", b.h.node(sender), id])
        #expect(both.exitCode == 64, "\(both)")

        for tail in [meta, full, anriOnly] {
            await tail.stop()
            #expect(tail.process.terminationStatus == 0, "\(tail.name) after SIGTERM: \(tail.stderr)")
        }
    }

    // MARK: flags

    @Test func metricsFlagsAreChecked() async throws {
        let h = try await Harness(agencies: [sender], startBroker: false)
        defer { h.shutdown() }
        let base = ["--topology", h.topologyPath, "--broker", h.brokerID, "--data", h.brokerData, "--bind", "tcp://127.0.0.1:*"]
        let remote = try await h.brokerTool(base + ["--metrics", "0.0.0.0:0"])
        #expect(remote.exitCode == 64, "\(remote)")
        #expect(remote.stderr.contains("not a loopback address") && remote.stderr.contains("--metrics-allow-remote"), "\(remote)")
        let bad = try await h.brokerTool(base + ["--metrics", "127.0.0.1"])
        #expect(bad.exitCode == 64 && bad.stderr.contains("HOST:PORT"), "\(bad)")
        let lone = try await h.brokerTool(base + ["--metrics-allow-remote"])
        #expect(lone.exitCode == 64, "\(lone)")
        #expect(!FileManager.default.fileExists(atPath: h.brokerData + "/queue.sqlite"), "a refused start must change nothing")
    }

    // MARK: set-topology --add

    @Test func setTopologyAddsAgenciesAndOperatorsThatInitThenAccepts() async throws {
        let h = try await Harness(agencies: [], startBroker: false)
        defer { h.shutdown() }
        let missing = try await h.brokerTool(["set-topology", "--topology", h.topologyPath, "--operator", "ops-jateng", "--public-key",
                                              SecretKey.generate().publicKey.text])
        #expect(missing.exitCode == 65 && missing.stderr.contains("--add --operator ops-jateng"), "\(missing)")
        let noName = try await h.brokerTool(["set-topology", "--topology", h.topologyPath, "--add", "--agency", "pemkot-solo"])
        #expect(noName.exitCode == 64 && noName.stderr.contains("--name"), "\(noName)")
        try await h.setTopology(["--add", "--operator", "ops-jateng"])
        try await h.setTopology(["--add", "--agency", "pemkot-solo", "--name", "Pemerintah Kota Surakarta"])
        let again = try await h.brokerTool(["set-topology", "--topology", h.topologyPath, "--add", "--operator", "ops-jateng"])
        #expect(again.exitCode == 65 && again.stderr.contains("already"), "\(again)")
        let t = try Topology.load(path: h.topologyPath)
        #expect(t.operator("ops-jateng")?.publicKey == "")
        #expect(t.agency("pemkot-solo")?.name == "Pemerintah Kota Surakarta" && t.agency("pemkot-solo")?.broker == h.brokerID)
        // Now init accepts them.
        let op = try await h.cli(["init", "--operator", h.directory.file("ops2"), "--id", "ops-jateng", "--topology", h.topologyPath])
        #expect(op.exitCode == 0, "\(op)")
        let node = try await h.cli(["init", "--node", h.directory.file("solo"), "--agency", "pemkot-solo", "--topology", h.topologyPath])
        #expect(node.exitCode == 0, "\(node)")
    }

    // MARK: init --operator

    @Test func initOperatorMakesAPrivateKeyAndPrintsOnlyThePublicOne() async throws {
        let h = try await Harness(agencies: [], startBroker: false)
        defer { h.shutdown() }
        let dir = h.directory.file("ops")
        let made = try await h.cli(["init", "--operator", dir, "--id", "ops-nasional", "--topology", h.topologyPath])
        #expect(made.exitCode == 0 && made.lines.count == 1 && made.lines[0].hasPrefix("ed25519:"), "\(made)")
        #expect(try PublicKey(text: made.lines[0]) == KeyFile.load(at: OperatorConfig.keyPath(in: dir)).publicKey)
        let keyMode = try #require(try FileManager.default.attributesOfItem(atPath: OperatorConfig.keyPath(in: dir))[.posixPermissions] as? Int)
        #expect(keyMode == 0o600)
        let dirMode = try #require(try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int)
        #expect(dirMode == 0o700)
        #expect(try OperatorConfig.load(directory: dir).operator == "ops-nasional")

        let again = try await h.cli(["init", "--operator", dir, "--id", "ops-nasional", "--topology", h.topologyPath])
        #expect(again.exitCode == 64 && again.stderr.contains("already"), "\(again)")
        let unknown = try await h.cli(["init", "--operator", h.directory.file("x"), "--id", "ops-nowhere", "--topology", h.topologyPath])
        #expect(unknown.exitCode == 65 && unknown.stderr.contains("operator 'ops-nowhere' is not in the topology") && unknown.stderr.contains("--add --operator"), "\(unknown)")
        let mixed = try await h.cli(["init", "--operator", h.directory.file("y"), "--agency", sender, "--id", "ops-nasional",
                                     "--topology", h.topologyPath])
        #expect(mixed.exitCode == 64, "\(mixed)")
        #expect(!FileManager.default.fileExists(atPath: h.directory.file("x")) && !FileManager.default.fileExists(atPath: h.directory.file("y")))
        let noID = try await h.cli(["init", "--operator", h.directory.file("z"), "--topology", h.topologyPath])
        #expect(noID.exitCode == 64 && noID.stderr.contains("--id"), "\(noID)")
    }

    // MARK: logs

    @Test func debugLogsCarryNoLetterContentOrSecrets() async throws {
        let b = try await opsBus(agencies: [sender, "bappenas"])
        defer { b.h.shutdown() }
        let subject = "PerihalRahasia\(UUID().uuidString.prefix(8))"
        let body = "IsiRahasia\(UUID().uuidString.prefix(8))"
        let subscription = try b.h.startCLI(["subscribe", "--node", b.h.node("bappenas"), "--json", "--log-level", "debug", "--log-format", "json"])
        let sent = try await b.h.send(from: sender, to: "bappenas", subject: subject, body: body, extra: ["--verbose"])
        #expect(sent.exitCode == 0, "\(sent)")
        _ = try await subscription.waitForLines(1, timeout: 15)
        let tail = try b.h.startCLI(["tail", "--operator", b.ops, "--log-level", "debug"])
        _ = await eventually(timeout: 5) { b.h.brokerLog.contains("operator stream opened") }
        await tail.stop()
        await subscription.stop()
        #expect(subscription.stdout.contains(subject), "the data itself goes to stdout")
        #expect(subscription.stderr.contains("\"msg\":\"letter stored\""), "debug logs were written: \(subscription.stderr)")
        for line in subscription.stderr.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not one JSON object: \(line)")
        }
        let secrets = try [NodeConfig.keyPath(in: b.h.node(sender)), NodeConfig.keyPath(in: b.h.node("bappenas")),
                           OperatorConfig.keyPath(in: b.ops), BrokerConfig.keyPath(dataDirectory: b.h.brokerData)]
            .map { try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        for (name, log) in [("send", sent.stderr), ("subscribe", subscription.stderr), ("tail", tail.stderr), ("broker", b.h.brokerLog)] {
            #expect(!log.contains(subject) && !log.contains(body), "\(name) logged letter content:\n\(log)")
            #expect(!log.contains("ed25519-secret"), "\(name) logged a secret key")
            for s in secrets { #expect(!log.contains(String(s.dropFirst("ed25519-secret:".count).prefix(40))), "\(name) logged key material") }
        }
        #expect(!b.h.brokerLog.isEmpty && b.h.brokerLog.contains("message accepted"))
    }

    // MARK: watch in a terminal

    @Test func watchRefreshesInATerminalAndRestoresItOnQuit() async throws {
        guard let tmux = which("tmux") else {
            print("SKIPPED watchRefreshesInATerminalAndRestoresItOnQuit: tmux is not installed (apt-get install tmux)")
            return
        }
        let b = try await opsBus(agencies: [sender, "bappenas", "anri"])
        defer { b.h.shutdown() }
        let subscription = try b.h.subscribe("bappenas")
        _ = try await sendAccepted(b.h, to: "bappenas", subject: "Surat A")
        _ = try await sendAccepted(b.h, to: "anri", subject: "Surat B")
        _ = try await subscription.waitForLines(1, timeout: 15)

        let socket = b.h.directory.file("tmux.sock")
        var env = ProcessInfo.processInfo.environment
        env["TERM"] = "xterm-256color"
        env["NO_COLOR"] = nil
        env["TMUX"] = nil
        func tmuxRun(_ args: [String]) async throws -> String {
            let r = try await runProgram(tmux, ["-S", socket, "-f", "/dev/null"] + args, environment: env, in: b.h.logs)
            guard r.status == 0 else { throw HarnessError("tmux \(args.joined(separator: " ")) → \(r.status): \(r.stderr)") }
            return r.stdout
        }
        defer {
            // Synchronous on purpose (a defer cannot await); tmux kill-server returns at once.
            let killer = Process()
            killer.executableURL = URL(fileURLWithPath: tmux)
            killer.arguments = ["-S", socket, "kill-server"]
            killer.standardError = FileHandle.nullDevice
            if (try? killer.run()) != nil {
                let deadline = Date().addingTimeInterval(5)
                while killer.isRunning && Date() < deadline { usleep(10_000) }
            }
        }
        let bus = try Harness.executable("bus-cli").path

        // Two runs: with colour, quit by 'q'; with NO_COLOR, quit by Ctrl-C.
        for (run, (noColor, key)) in [(false, "q"), (true, "C-c")].enumerated() {
            let dir = b.h.directory.file("watch-\(run)")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let colour = noColor ? "NO_COLOR=1 " : ""
            let script = "stty -g > \(dir)/before; \(colour)\(bus) watch --operator \(b.ops) 2> \(dir)/stderr; rc=$?; "
                + "stty -g > \(dir)/after; echo $rc > \(dir)/rc; sleep 120"
            _ = try await tmuxRun(["new-session", "-d", "-s", "w\(run)", "-x", "120", "-y", "32", "sh", "-c", script])

            // A few refreshes: the footer's time changes with every snapshot drawn.
            var refreshes = Set<String>()
            var screen = ""
            let refreshed = await eventually(timeout: 20) {
                screen = (try? await tmuxRun(["capture-pane", "-p", "-t", "w\(run)"])) ?? screen
                if let line = screen.split(separator: "\n").first(where: { $0.contains("refreshed 20") }) { refreshes.insert(String(line)) }
                return refreshes.count >= 3 && screen.contains("anri")
            }
            #expect(refreshed, "watch did not refresh 3 times:\n\(screen)\n\((try? String(contentsOfFile: dir + "/stderr", encoding: .utf8)) ?? "")")
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first?.hasPrefix("AgencyBus broker nasional at tcp://127.0.0.1:") == true, "\(screen)")
            // 1 of the topology's agencies is connected (the harness topology lists them all).
            #expect(lines.contains { $0.hasPrefix("nodes 1/") && $0.contains(" connected  queued ") }, "\(screen)")
            let header = try #require(lines.firstIndex { $0.hasPrefix("AGENCY") }, "\(screen)")
            let rows = lines[(header + 1)...].filter { !$0.isEmpty }
            // Offline agencies with mail come first: B, and the sender (its receipts wait).
            #expect(rows.first?.contains("DOWN") == true, "an offline agency with mail comes first:\n\(screen)")
            let down = rows.prefix { $0.contains("DOWN") }
            #expect(down.contains { $0.hasPrefix("anri") }, "B offline with mail is among the first rows:\n\(screen)")
            #expect(rows.contains { $0.hasPrefix("bappenas") && !$0.contains("DOWN") }, "\(screen)")
            #expect(rows.contains { $0.hasPrefix(sender) }, "\(screen)")
            #expect(lines.contains { $0.hasPrefix("q quit") }, "\(screen)")
            let state = try await tmuxRun(["display-message", "-p", "-t", "w\(run)", "#{alternate_on} #{cursor_flag}"])
            #expect(state.trimmingCharacters(in: .whitespacesAndNewlines) == "1 0", "full screen, cursor hidden: \(state)")
            let styled = try await tmuxRun(["capture-pane", "-p", "-e", "-t", "w\(run)"])
            let anriStyled = styled.split(separator: "\n").first { $0.contains("anri") }.map(String.init) ?? ""
            if noColor {
                #expect(!anriStyled.contains("\u{1B}[3") && !anriStyled.contains(";3"), "NO_COLOR still coloured: \(anriStyled.debugDescription)")
            } else {
                #expect(styled.contains("\u{1B}[") && styled.contains("31"), "no red on a TTY: \(styled.debugDescription)")
            }

            _ = try await tmuxRun(["send-keys", "-t", "w\(run)", key])
            let exited = await eventually(timeout: 10) { FileManager.default.fileExists(atPath: dir + "/rc") }
            #expect(exited, "watch did not quit on \(key)")
            let rc = (try? String(contentsOfFile: dir + "/rc", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(rc == "0", "watch exit status \(rc ?? "?")")
            let before = try String(contentsOfFile: dir + "/before", encoding: .utf8)
            let after = try String(contentsOfFile: dir + "/after", encoding: .utf8)
            #expect(before == after && !before.isEmpty, "terminal modes not restored:\n\(before)\n\(after)")
            let restored = try await tmuxRun(["display-message", "-p", "-t", "w\(run)", "#{alternate_on} #{cursor_flag}"])
            #expect(restored.trimmingCharacters(in: .whitespacesAndNewlines) == "0 1", "alternate screen left, cursor shown: \(restored)")
        }
        await subscription.stop()
    }

    // MARK: deploy

    @Test func systemdUnitsPassSystemdAnalyzeVerify() async throws {
        guard let analyze = which("systemd-analyze") else {
            print("SKIPPED systemdUnitsPassSystemdAnalyzeVerify: systemd-analyze is not installed (make verify-deploy installs it)")
            return
        }
        let script = Fixtures.packageRoot.appendingPathComponent("deploy/verify-units.sh").path
        let dir = try TemporaryDirectory("agencybus-units")
        var env = ProcessInfo.processInfo.environment
        env["SYSTEMD_ANALYZE"] = analyze
        env["AGENCYBUS_BIN"] = Harness.binDirectory.path
        let r = try await runProgram("/bin/sh", [script], environment: env, in: dir.url, timeout: 60)
        if r.status == 77 {
            print("SKIPPED systemdUnitsPassSystemdAnalyzeVerify: \(r.stdout)\(r.stderr)")
            return
        }
        #expect(r.status == 0, "systemd-analyze verify failed:\n\(r.stdout)\n\(r.stderr)")
    }
}
