import Foundation
import Testing
@testable import AgencyBus

// The monitoring values without sockets: counters, latency window, rates, problem ordering,
// event redaction, operator streams, the queue summary query, the watch screen, log settings.

private let t0 = Timestamp(milliseconds: 1_796_000_000_000)
private func at(_ seconds: Double) -> Timestamp { Timestamp(milliseconds: t0.milliseconds + Int64(seconds * 1000)) }

private func inputs(agencies: [String] = ["anri", "bappenas", "kemenpanrb"], sessions: [BrokerStats.Session] = [],
                    queue: [BrokerStore.QueueEntry] = [], watching: Int = 0) -> BrokerStats.Inputs {
    .init(broker: "nasional", endpoint: "tcp://127.0.0.1:7450", agencies: agencies, sessions: sessions,
          queue: queue, storeBytes: 4096, watching: watching)
}

@Suite("Broker stats")
struct BrokerStatsTests {
    @Test func countersFollowAKnownPattern() throws {
        var stats = BrokerStats(startedAt: t0)
        // N = 3 letters to bappenas (delivered), M = 2 to anri (offline, queued).
        for i in 0..<5 {
            stats.record(BrokerEvent(ts: at(Double(i)), kind: .accepted, agency: "kemenpanrb", id: MessageID.generate(),
                                     messageKind: "letter", from: "kemenpanrb", to: [i < 3 ? "bappenas" : "anri"], bytes: 900))
        }
        for i in 0..<3 {
            stats.record(BrokerEvent(ts: at(Double(10 + i)), kind: .delivered, agency: "bappenas", latencyMs: Int64(100 * (i + 1))))
        }
        stats.record(BrokerEvent(ts: at(20), kind: .refused, agency: "anri", id: "-", code: "forbidden"))
        stats.record(BrokerEvent(ts: at(21), kind: .refused, id: "-", code: "malformed"))
        stats.record(BrokerEvent(ts: at(22), kind: .rejected, agency: "bappenas", reason: "bad signature"))
        stats.record(BrokerEvent(ts: at(23), kind: .connected, agency: "bappenas"))
        stats.received(bytes: 5000)
        stats.sent(bytes: 7000)

        let s = stats.snapshot(now: at(60), inputs(
            sessions: [.init(agency: "bappenas", since: at(9), peer: "10.1.2.3", inFlight: 0)],
            queue: [.init(recipient: "anri", depth: 2, oldestAcceptedAt: at(3).milliseconds),
                    .init(recipient: "kemenpanrb", depth: 1, oldestAcceptedAt: at(13).milliseconds)]))

        #expect(s.totals.accepted == 5)
        #expect(s.totals.delivered == 3)
        #expect(s.totals.rejected == 1)
        #expect(s.totals.refused == 2)
        #expect(s.totals.queued == 3)
        #expect(s.totals.bytesIn == 5000 && s.totals.bytesOut == 7000)
        #expect(s.refusedByReason == ["forbidden": 1, "malformed": 1])
        #expect(s.connectedNodes == 1)
        #expect(s.uptimeSeconds == 60)
        #expect(s.at == at(60).text && s.startedAt == t0.text)

        let anri = try #require(s.agency("anri"))
        #expect(anri.queued == 2 && anri.oldestAgeSeconds == 57 && !anri.connected)
        #expect(anri.refused == 1 && anri.refusedLastMinute == 1)
        let bappenas = try #require(s.agency("bappenas"))
        #expect(bappenas.delivered == 3 && bappenas.rejected == 1 && bappenas.queued == 0 && bappenas.oldestAgeSeconds == nil)
        #expect(bappenas.connected && bappenas.peer == "10.1.2.3" && bappenas.since == at(9).text)
        let kemenpanrb = try #require(s.agency("kemenpanrb"))
        #expect(kemenpanrb.accepted == 5 && kemenpanrb.delivered == 0)
        #expect(s.agencies.map(\.id) == ["anri", "bappenas", "kemenpanrb"])

        #expect(s.latency.samples == 3 && s.latency.count == 3)
        #expect(s.latency.p50Ms == 200 && s.latency.p95Ms == 300 && s.latency.p99Ms == 300)
        #expect(abs(s.latency.sumSeconds - 0.6) < 1e-9)
        // The rate covers the last 60 one-second slots: the letter accepted at t0 is a full
        // minute old at t0+60 and has left the window; the other four count.
        #expect(abs(s.rates.acceptedPerSecond - 4.0 / 60) < 1e-9)

        // The snapshot survives JSON both ways (STATS frame).
        #expect(try BrokerStatsSnapshot.decode(s.json()) == s)
        // A refusal burst fades after a minute.
        #expect(stats.snapshot(now: at(81), inputs()).agency("anri")?.refusedLastMinute == 0)
    }

    @Test func latencyPercentilesAreNearestRankOverTheWindow() {
        var w = LatencyWindow(windowMilliseconds: 60_000, capacity: 1000)
        for ms in 1...100 { w.add(ms: Int64(ms), at: 1_000) }
        var p = w.percentiles(now: 2_000)
        #expect(p.samples == 100 && p.p50 == 50 && p.p95 == 95 && p.p99 == 99)
        // Samples older than the window no longer count.
        w.add(ms: 5000, at: 70_000)
        p = w.percentiles(now: 70_000)
        #expect(p.samples == 1 && p.p50 == 5000 && p.p99 == 5000)
        #expect(w.percentiles(now: 200_000).p50 == nil)
        // The capacity bounds the memory: the oldest samples are overwritten.
        var small = LatencyWindow(windowMilliseconds: 60_000, capacity: 3)
        for ms in [10, 20, 30, 40] { small.add(ms: Int64(ms), at: 0) }
        #expect(small.percentiles(now: 0) == .init(samples: 3, p50: 30, p95: 40, p99: 40))
        #expect(small.count == 4 && small.sumMilliseconds == 100)
        // A clock step backwards counts as 0, never a negative latency.
        small.add(ms: -50, at: 0)
        #expect(small.cumulativeBuckets.first?.count == 1)
    }

    @Test func theHistogramIsCumulativeAndEndsWithTheCount() {
        var w = LatencyWindow()
        for ms in [1, 4, 5, 6, 20_000, 100_000_000] { w.add(ms: Int64(ms), at: 0) }
        let buckets = w.cumulativeBuckets
        #expect(buckets.count == LatencyWindow.bucketBounds.count + 1)
        #expect(buckets.first?.le == 0.005 && buckets.first?.count == 3)   // 1, 4 and 5 ms: le is inclusive
        #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.count <= $1.count && $0.le < $1.le })
        #expect(buckets.last?.le == .infinity && buckets.last?.count == 6)
        #expect(buckets.first { $0.le == 30 }?.count == 5)
        #expect(buckets.first { $0.le == 86_400 }?.count == 5)
    }

    @Test func ratesCoverTheLastMinute() {
        var r = RateCounter()
        for s in 0..<120 { r.add(at: Int64(s) * 1000) }
        #expect(r.total(now: 119_999) == 60)
        #expect(r.perSecond(now: 119_999, uptimeMs: 120_000) == 1)
        #expect(r.total(now: 300_000) == 0)
        var young = RateCounter()
        young.add(at: 500, 10)
        #expect(young.perSecond(now: 5_000, uptimeMs: 5_000) == 2)
    }

    @Test func problemsComeFirst() {
        func agency(_ id: String, connected: Bool = true, queued: Int = 0, age: Double? = nil, burst: Int = 0) -> BrokerStatsSnapshot.Agency {
            .init(id: id, connected: connected, since: nil, peer: nil, queued: queued, oldestAgeSeconds: age, inFlight: 0,
                  accepted: 0, delivered: 0, rejected: 0, refused: burst, refusedLastMinute: burst)
        }
        var s = BrokerStats(startedAt: t0).snapshot(now: t0, inputs(agencies: []))
        s.agencies = [
            agency("a-healthy"), agency("b-idle", connected: false),
            agency("c-burst-small", burst: 2), agency("d-burst-big", burst: 9),
            agency("e-queued-young", queued: 3, age: 5), agency("f-queued-old", queued: 1, age: 900),
            agency("g-down-young", connected: false, queued: 1, age: 10), agency("h-down-old", connected: false, queued: 40, age: 7200),
        ]
        #expect(s.agenciesByProblem.map(\.id) == ["h-down-old", "g-down-young", "f-queued-old", "e-queued-young",
                                                  "d-burst-big", "c-burst-small", "a-healthy", "b-idle"])
    }

    @Test func eventsAreRedactedUnlessGranted() throws {
        var e = BrokerEvent(ts: t0, kind: .accepted, agency: "kemenpanrb", id: "01M8YRJ4ERW5QB2M5183SDV49X", messageKind: "letter",
                            from: "kemenpanrb/setmen", to: ["bappenas", "anri"], bytes: 900)
        e.subject = "Perihal rahasia"
        e.body = "Isi surat"
        #expect(e.hasContent)
        let plain = String(decoding: e.redacted().json(), as: UTF8.self)
        #expect(!plain.contains("Perihal") && !plain.contains("Isi surat") && !plain.contains("subject"))
        #expect(plain.contains("\"kind\":\"accepted\"") && plain.contains("\"from\":\"kemenpanrb/setmen\""))
        let full = try JSONDecoder().decode(BrokerEvent.self, from: e.json())
        #expect(full == e)
        #expect(e.involves(agency: "kemenpanrb") && e.involves(agency: "anri") && !e.involves(agency: "pemkot-semarang"))

        // A recipient node's rejection reason can quote the letter: withheld without the grant.
        let rejected = BrokerEvent(ts: t0, kind: .rejected, agency: "bappenas",
                                   reason: "attachments[0] ('nota-rahasia.pdf') does not match the SHA-256 in the signed header")
        #expect(rejected.hasContent)
        #expect(rejected.redacted().reason == BrokerEvent.withheldRejection)
        #expect(!String(decoding: rejected.redacted().json(), as: UTF8.self).contains("nota-rahasia"))
        let refused = BrokerEvent(ts: t0, kind: .refused, id: "-", code: "malformed", reason: "header is not valid UTF-8")
        #expect(!refused.hasContent && refused.redacted().reason == refused.reason, "the broker's own reasons stay")
    }

    @Test func operatorStreamsExpireAndStayBounded() {
        var streams = OperatorStreams(timeoutMilliseconds: 30_000, limit: 2)
        streams.watch(routingID: [1], operatorID: "ops", now: at(0))
        streams.watch(routingID: [2], operatorID: "ops", now: at(1))
        streams.heard([1], now: at(20))
        streams.watch(routingID: [3], operatorID: "ops", now: at(21))  // over the limit: the stalest ([2]) goes
        #expect(Set(streams.watchers.keys) == [[1], [3]])
        #expect(streams.expire(now: at(45)).map(\.routingID) == [])
        #expect(streams.expire(now: at(51)).map(\.routingID) == [[1]])
        #expect(streams.isWatching([3]) && streams.count == 1)
    }

    @Test func theQueueSummaryWalksOnlyPendingDeliveries() throws {
        let dir = try TemporaryDirectory()
        let store = try BrokerStore(path: dir.file("queue.sqlite"))
        let key = SecretKey.generate()
        var ids: [String] = []
        try store.db.inTransaction {
            for (i, to) in ["bappenas", "bappenas", "anri", "bappenas"].enumerated() {
                let e = try Fixtures.sealedLetter(key: key, to: [to])
                try store.insert(e, sender: "kemenpanrb", recipients: [to], acceptedAt: at(Double(i)))
                ids.append(e.id)
            }
        }
        // The first letter to bappenas is delivered: the oldest pending one is now the second.
        let first = try #require(try store.delivery(messageID: ids[0], recipient: "bappenas"))
        #expect(first.messageAcceptedAt == at(0).milliseconds && first.messageSize > 0)
        try store.close(deliverySeq: first.seq, state: .stored, reason: nil, at: at(5))
        let summary = try store.queueSummary().sorted { $0.recipient < $1.recipient }
        #expect(summary == [.init(recipient: "anri", depth: 1, oldestAcceptedAt: at(2).milliseconds),
                            .init(recipient: "bappenas", depth: 2, oldestAcceptedAt: at(1).milliseconds)])
        #expect(try store.storeBytes() > 0)
        let plan = try store.db.query("EXPLAIN QUERY PLAN " + BrokerStore.queueSummarySQL) { $0.text(3) }.joined(separator: "; ")
        #expect(plan.contains("deliveries_pending"), "the queue summary should walk the partial index: \(plan)")
    }

    @Test func theWatchScreenPutsProblemsFirstAndFitsTheWindow() {
        var stats = BrokerStats(startedAt: t0)
        stats.record(BrokerEvent(ts: at(1), kind: .accepted, agency: "kemenpanrb"))
        stats.record(BrokerEvent(ts: at(3700), kind: .delivered, agency: "bappenas", latencyMs: 42))  // inside the 60 s latency window
        let agencies = ["anri", "bappenas", "kemenpanrb"] + (1...20).map { "pemkot-\($0)" }
        let s = stats.snapshot(now: at(3725), inputs(
            agencies: agencies,
            sessions: [.init(agency: "bappenas", since: at(3600), peer: "10.1.2.3", inFlight: 1)],
            queue: [.init(recipient: "anri", depth: 7, oldestAcceptedAt: at(5).milliseconds)], watching: 1))
        let all = WatchScreen.render(s)
        #expect(all[0].hasPrefix("AgencyBus broker nasional at tcp://127.0.0.1:7450  up 1h02m"))
        #expect(all.contains { $0.hasPrefix("nodes 1/23 connected  queued 7 (oldest 1h02m)  in flight 1  operators 1") })
        #expect(all.contains { $0.contains("latency p50 42ms p95 42ms p99 42ms") })
        let header = all.firstIndex { $0.hasPrefix("AGENCY") }!  // rendered above
        let rows = all[(header + 1)...]
        #expect(rows.first?.hasPrefix("anri") == true && rows.first?.contains("DOWN") == true, "\(all.joined(separator: "\n"))")
        #expect(rows.dropFirst().first?.hasPrefix("bappenas") == true && rows.dropFirst().first?.contains("10.1.2.3") == true)
        #expect(rows.count == 23)
        #expect(!all.joined().contains("\u{1B}"), "no escapes without colour")

        let small = WatchScreen.render(s, layout: .init(width: 60, height: 12, colour: true), footer: "q quit")
        #expect(small.count <= 12)
        #expect(small.contains { $0.contains("more agencies") })
        #expect(small.joined().contains("\u{1B}[31;1m"), "a disconnected agency with mail is red")
        #expect(WatchScreen.render(nil).first?.contains("waiting") == true)
    }

    @Test func unitsReadLikeTop() {
        #expect(WatchScreen.duration(45) == "45s")
        #expect(WatchScreen.duration(245) == "4m05s")
        #expect(WatchScreen.duration(11_520) == "3h12m")
        #expect(WatchScreen.duration(187_200) == "2d04h")
        #expect(WatchScreen.bytes(912) == "912 B")
        #expect(WatchScreen.bytes(1_258_291) == "1.2 MiB")
        #expect(WatchScreen.ms(12) == "12ms" && WatchScreen.ms(1_200) == "1.2s" && WatchScreen.ms(190_000) == "3m10s" && WatchScreen.ms(nil) == "-")
    }

    @Test func logSettingsPreferOptionsThenVerboseThenEnvironment() throws {
        let env = [LogSettings.formatVariable: "json", LogSettings.levelVariable: "info"]
        var s = try LogSettings.resolve(format: nil, level: nil, environment: [:], defaultLevel: .warning)
        #expect(s.format == .logfmt && s.level == .warning)
        s = try LogSettings.resolve(format: nil, level: nil, environment: env, defaultLevel: .warning)
        #expect(s.format == .json && s.level == .info)
        s = try LogSettings.resolve(format: nil, level: nil, verbose: true, environment: env, defaultLevel: .warning)
        #expect(s.level == .debug)
        s = try LogSettings.resolve(format: "logfmt", level: "error", verbose: true, environment: env, defaultLevel: .warning)
        #expect(s.format == .logfmt && s.level == .error)
        #expect(throws: LogSettings.Invalid.self) {
            try LogSettings.resolve(format: nil, level: nil, environment: [LogSettings.levelVariable: "loud"], defaultLevel: .info)
        }
        do {
            _ = try LogSettings.resolve(format: "xml", level: nil, environment: [:], defaultLevel: .info)
        } catch let e as LogSettings.Invalid {
            #expect(e.description == "--log-format must be logfmt or json, got 'xml'")
        }
    }
}
