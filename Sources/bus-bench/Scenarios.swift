import AgencyBus
import Foundation

/// The scenarios of issue 8. Each builds its own bus (fresh stores), starts the real
/// `bus-broker`, drives real node code, and returns table rows.
struct Scenarios {
    let scale: Scale
    let limits: MachineLimits
    let root: String
    let bin: String
    let keep: Bool

    func runs(_ n: Int) -> String { n == 1 ? "1" : "\(n)" }

    // MARK: - S1 durable signed relay

    func relay() throws -> [Row] {
        let attachment = URL(fileURLWithPath: root + "/lampiran.pdf")
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
        try Data(bytes).write(to: attachment)
        var small = Figure(values: []), smallMB = Figure(values: []), large = Figure(values: []), largeLetters = Figure(values: [])
        for run in 0..<scale.runsFast {
            let bus = try BenchBus(root: root, name: "s1-\(run)", agencies: ["pengirim", "penerima"], binDirectory: bin)
            defer { bus.remove(keep: keep) }
            try bus.startBroker()
            let receiver = BenchReceivers(directories: [bus.node("penerima")], record: false)
            receiver.start()
            defer { try? receiver.stop() }
            say("S1 run \(run + 1)/\(scale.runsFast): \(scale.s1Small) letters × 2 KiB")
            var plan = BenchSender.Plan(recipients: ["penerima"], total: scale.s1Small, expectReceipts: scale.s1Small)
            plan.batch = 64
            plan.maxOutstanding = 1024
            let s = BenchSender(directory: bus.node("pengirim"), plan: plan)
            s.start()
            try s.wait(timeout: 900, what: "S1 2 KiB receipts") { $0.receipts >= scale.s1Small }
            s.stop(); try s.join()
            let st = s.state.get
            let seconds = st.lastReceipt! - st.firstSubmit!
            small.values.append(Double(scale.s1Small) / seconds)
            smallMB.values.append(Double(scale.s1Small * 2048) / seconds / 1e6)
            say("  \(fmt(Double(scale.s1Small) / seconds)) letters/s")

            say("S1 run \(run + 1)/\(scale.runsFast): \(scale.s1Large) letters × 1 MiB attachment")
            var big = BenchSender.Plan(recipients: ["penerima"], total: scale.s1Large, expectReceipts: scale.s1Large)
            big.bodyBytes = 512
            big.attachment = attachment
            big.batch = 4
            big.maxOutstanding = 24
            let b = BenchSender(directory: bus.node("pengirim"), plan: big)
            b.start()
            try b.wait(timeout: 900, what: "S1 1 MiB receipts") { $0.receipts >= scale.s1Large }
            b.stop(); try b.join()
            let bt = b.state.get
            let bs = bt.lastReceipt! - bt.firstSubmit!
            large.values.append(Double(scale.s1Large) * Double(1 << 20) / bs / 1e6)
            largeLetters.values.append(Double(scale.s1Large) / bs)
            say("  \(fmt(Double(scale.s1Large) * Double(1 << 20) / bs / 1e6)) MB/s")
        }
        let crypto = limits.cryptoBoundLettersPerSecond
        let raw = limits.rawLargeCurveMBps.median
        return [
            Row(scenario: "S1 relay 2 KiB", metric: "letters/s, first submit → last receipt", figure: small, unit: "/s",
                runs: runs(scale.runsFast), target: "≥ 6,000/s; ratio ≥ 0.65", met: small.median >= 6000 && small.median / crypto >= 0.65,
                limit: "crypto-bound \(fmt(crypto))/s (\(limits.cores) cores ÷ (1 sign + 2 verify))", ratio: small.median / crypto),
            Row(scenario: "S1 relay 2 KiB", metric: "MB/s of bodies", figure: smallMB, unit: "MB/s", runs: runs(scale.runsFast),
                limit: "raw forwarder 2 KiB: \(fmt(limits.rawSmallPerSecond.median * 2048 / 1e6)) MB/s",
                ratio: smallMB.median / (limits.rawSmallPerSecond.median * 2048 / 1e6)),
            Row(scenario: "S1 relay 1 MiB", metric: "MB/s of attachments, first submit → last receipt", figure: large, unit: "MB/s",
                runs: runs(scale.runsFast), target: "≥ 150 MB/s", met: large.median >= 150,
                limit: "raw forwarder 1 MiB with CURVE \(fmt(raw)) MB/s; SQLite 1 MiB blobs \(fmt(limits.blobMBps.median)) MB/s; SHA-256 \(fmt(limits.sha256MBps.median)) MB/s (×3 per letter)",
                ratio: large.median / min(raw, limits.blobMBps.median)),
            Row(scenario: "S1 relay 1 MiB", metric: "letters/s", figure: largeLetters, unit: "/s", runs: runs(scale.runsFast)),
        ]
    }

    // MARK: - S2 latency at a fixed rate

    func latency() throws -> [Row] {
        var p50 = Figure(values: []), p99 = Figure(values: []), p999 = Figure(values: [])
        let total = Int(scale.s2Rate * scale.s2Seconds)
        for run in 0..<scale.runsFast {
            let bus = try BenchBus(root: root, name: "s2-\(run)", agencies: ["pengirim", "penerima"], binDirectory: bin)
            defer { bus.remove(keep: keep) }
            try bus.startBroker()
            let receiver = BenchReceivers(directories: [bus.node("penerima")], record: true)
            receiver.start()
            defer { try? receiver.stop() }
            while receiver.connected.get < 1 { usleep(5_000) }
            say("S2 run \(run + 1)/\(scale.runsFast): \(Int(scale.s2Rate)) letters/s for \(Int(scale.s2Seconds)) s")
            var plan = BenchSender.Plan(recipients: ["penerima"], total: total, expectReceipts: total)
            plan.rate = scale.s2Rate
            plan.recordSubmitTimes = true
            let s = BenchSender(directory: bus.node("pengirim"), plan: plan)
            s.start()
            try s.wait(timeout: scale.s2Seconds * 10 + 60, what: "S2 receipts") { $0.receipts >= total }
            s.stop(); try s.join()
            let submitted = s.state.get.submitTimes
            let lat = receiver.arrivals.get.compactMap { a in submitted[a.id].map { (a.at - $0) * 1000 } }
            guard lat.count == total else { throw BenchFailure("S2: \(lat.count) of \(total) latencies") }
            p50.values.append(percentile(lat, 50)); p99.values.append(percentile(lat, 99)); p999.values.append(percentile(lat, 99.9))
            say("  p50 \(fmt(percentile(lat, 50))) ms, p99 \(fmt(percentile(lat, 99))) ms, p99.9 \(fmt(percentile(lat, 99.9))) ms")
        }
        // Floor: two durable commits on the way (broker accept, node inbox) plus the raw hop.
        let floor = 2 * limits.commitMilliseconds + limits.rawLatencyP50.median
        let floorText = "2 fsync'd commits + raw hop = \(fmt(floor)) ms"
        return [
            Row(scenario: "S2 latency @500/s", metric: "p50 submit → inbox", figure: p50, unit: "ms", runs: runs(scale.runsFast),
                target: "< 1 ms", met: p50.median < 1, limit: floorText, ratio: floor / p50.median),
            Row(scenario: "S2 latency @500/s", metric: "p99 submit → inbox", figure: p99, unit: "ms", runs: runs(scale.runsFast),
                target: "< 10 ms", met: p99.median < 10, limit: "raw forwarder p99 \(fmt(limits.rawLatencyP99.median)) ms",
                ratio: floor / p99.median),
            Row(scenario: "S2 latency @500/s", metric: "p99.9 submit → inbox", figure: p999, unit: "ms", runs: runs(scale.runsFast)),
        ]
    }

    // MARK: - S3 circular fan-out

    func fanOut() throws -> [Row] {
        let n = scale.s3Agencies
        let names = (1...n).map { String(format: "instansi-%03d", $0) }
        say("S3: setting up \(n) agency nodes")
        let bus = try BenchBus(root: root, name: "s3", agencies: ["pusat"] + names, binDirectory: bin)
        defer { bus.remove(keep: keep) }
        try bus.startBroker()
        let groups = 4
        let per = (n + groups - 1) / groups
        let receivers = (0..<groups).map { g in
            BenchReceivers(directories: names[min(n, g * per)..<min(n, (g + 1) * per)].map { bus.node($0) }, indexBase: g * per, record: true)
        }
        receivers.forEach { $0.start() }
        defer { receivers.forEach { try? $0.stop() } }
        let deadline = now() + 120
        while receivers.reduce(0, { $0 + $1.connected.get }) < n {
            if now() > deadline { throw BenchFailure("S3: only \(receivers.reduce(0) { $0 + $1.connected.get }) of \(n) nodes subscribed") }
            usleep(10_000)
        }
        say("S3: \(n) nodes subscribed")
        func total() -> Int { receivers.reduce(0) { $0 + $1.received.get } }
        func lastArrival() -> Double { receivers.map { $0.arrivals.get.map(\.at).max() ?? 0 }.max() ?? 0 }
        func clear() { receivers.forEach { $0.arrivals.with { $0.removeAll() } } }

        /// Sends with `plan` from the ministry and returns the seconds from its first SUBMIT to
        /// the last of `expected` inbox commits (then waits for the receipts).
        func timeCirculars(_ plan: BenchSender.Plan, expected: Int, within seconds: Double) throws -> Double {
            clear()
            let before = total()
            let s = BenchSender(directory: bus.node("pusat"), plan: plan)
            s.start()
            let d = now() + seconds
            while total() - before < expected {
                if now() > d { throw BenchFailure("S3: \(total() - before) of \(expected) deliveries") }
                usleep(1_000)
            }
            let t = lastArrival() - s.state.get.firstSubmit!
            try s.wait(timeout: seconds, what: "S3 receipts") { $0.receipts >= expected }
            s.stop(); try s.join()
            return t
        }

        var one = Figure(values: [])
        for run in 0..<scale.runsFast {
            let t = try timeCirculars(.init(recipients: names, total: 1, expectReceipts: n), expected: n, within: 120)
            one.values.append(t)
            say("S3 circular \(run + 1)/\(scale.runsFast): in every inbox after \(fmt(t * 1000)) ms")
        }
        var burst = Figure(values: []), burstRate = Figure(values: [])
        for _ in 0..<scale.runsLarge {
            let expected = n * scale.s3Circulars
            var plan = BenchSender.Plan(recipients: names, total: scale.s3Circulars, expectReceipts: expected)
            plan.batch = 10
            plan.bodyBytes = 2048
            let t = try timeCirculars(plan, expected: expected, within: 600)
            burst.values.append(t)
            burstRate.values.append(Double(expected) / t)
            say("S3 \(scale.s3Circulars) circulars back to back: all inboxes after \(fmt(t)) s")
        }
        // Floor: every one of the n inboxes makes one fsync'd commit, on one disk.
        let floor = Double(n) * limits.commitMilliseconds / 1000
        return [
            Row(scenario: "S3 circular to \(n)", metric: "time until the last inbox has it", figure: one, unit: "s",
                runs: runs(scale.runsFast), target: "≤ 2 s (500)", met: one.median <= 2,
                limit: "\(n) inbox commits × \(fmt(limits.commitMilliseconds)) ms = \(fmt(floor)) s", ratio: floor / one.median),
            Row(scenario: "S3 \(scale.s3Circulars) circulars to \(n)", metric: "time until every inbox has all", figure: burst, unit: "s",
                runs: runs(scale.runsLarge)),
            Row(scenario: "S3 \(scale.s3Circulars) circulars to \(n)", metric: "deliveries/s", figure: burstRate, unit: "/s",
                runs: runs(scale.runsLarge), limit: "1 verify per delivery: \(fmt(limits.verifyPerSecond.median * Double(limits.cores)))/s",
                ratio: burstRate.median / (limits.verifyPerSecond.median * Double(limits.cores))),
        ]
    }

    // MARK: - S4 backlog drain

    /// Returns the rows and the recipient's node directory (kept for the 100,000-letter search).
    func backlog() throws -> (rows: [Row], bus: BenchBus) {
        var drain = Figure(values: []), rss = Figure(values: []), rate = Figure(values: [])
        var lastBus: BenchBus?
        for run in 0..<scale.runsLarge {
            let bus = try BenchBus(root: root, name: "s4-\(run)", agencies: ["pengirim", "penerima"], binDirectory: bin)
            if let lastBus { lastBus.remove(keep: keep) }
            lastBus = bus
            try bus.startBroker()
            say("S4 run \(run + 1)/\(scale.runsLarge): queueing \(scale.s4Backlog) letters for an offline node")
            var plan = BenchSender.Plan(recipients: ["penerima"], total: scale.s4Backlog, expectReceipts: scale.s4Backlog)
            plan.batch = 128
            plan.maxOutstanding = 2048
            let s = BenchSender(directory: bus.node("pengirim"), plan: plan)
            s.start()
            try s.wait(timeout: 900, what: "S4 acceptance") { $0.accepted >= scale.s4Backlog }
            let pid = bus.brokerPID
            let peak = Locked(residentBytes(pid: pid) ?? 0)
            let sampling = Locked(true)
            let sampler = Worker("rss") {
                while sampling.get {
                    if let r = residentBytes(pid: pid) { peak.with { $0 = max($0, r) } }
                    usleep(20_000)
                }
            }
            let before = residentBytes(pid: pid) ?? 0
            say("S4: broker RSS before the drain \(before >> 20) MiB; node connects")
            let t0 = now()
            let receiver = BenchReceivers(directories: [bus.node("penerima")], record: false)
            receiver.start()
            let d = now() + 900
            while receiver.received.get < scale.s4Backlog {
                if now() > d { throw BenchFailure("S4: drained \(receiver.received.get) of \(scale.s4Backlog)") }
                usleep(2_000)
            }
            let t = now() - t0
            sampling.with { $0 = false }
            try sampler.join()
            try s.wait(timeout: 300, what: "S4 receipts") { $0.receipts >= scale.s4Backlog }
            s.stop(); try s.join()
            try receiver.stop()
            drain.values.append(t)
            rate.values.append(Double(scale.s4Backlog) / t)
            rss.values.append(Double(peak.get) / Double(1 << 20))
            say("  drained in \(fmt(t)) s, broker peak RSS \(peak.get >> 20) MiB")
        }
        // Floor: the node verifies every letter on its one thread; batched commits are cheaper.
        let verifyFloor = Double(scale.s4Backlog) / limits.verifyPerSecond.median
        let commitFloor = Double(scale.s4Backlog) / limits.batchedRowsPerSecond.median
        let floor = max(verifyFloor, commitFloor)
        let rows = [
            Row(scenario: "S4 backlog \(scale.s4Backlog)", metric: "drain time after the node connects", figure: drain, unit: "s",
                runs: runs(scale.runsLarge), target: "≤ 30 s (100,000)", met: drain.median <= 30 * Double(scale.s4Backlog) / 100_000,
                limit: "node verify on 1 core \(fmt(verifyFloor)) s; batched commits \(fmt(commitFloor)) s", ratio: floor / drain.median),
            Row(scenario: "S4 backlog \(scale.s4Backlog)", metric: "letters/s drained", figure: rate, unit: "/s", runs: runs(scale.runsLarge)),
            Row(scenario: "S4 backlog \(scale.s4Backlog)", metric: "broker peak RSS during the drain", figure: rss, unit: "MiB",
                runs: runs(scale.runsLarge), target: "< 256 MiB", met: rss.median < 256),
        ]
        return (rows, lastBus!)
    }

    // MARK: - S5 restart, S6 queries

    /// Spawns the broker on `port` and returns seconds from spawn to the first ACCEPTED.
    func firstAcceptance(bus: BenchBus, port: Int, sender: AgencyNode) throws -> (listening: Double, accepted: Double) {
        var d = AgencyNode.Draft(to: [Address(agency: "penerima")], subject: "Setelah mulai ulang", body: "Dengan hormat.")
        d.number = "RESTART/\(UUID().uuidString.prefix(8))"
        let envelope = try sender.compose(d)
        let spawned = try bus.startBroker(port: port, waitReady: false)
        let deadline = spawned + 120
        while !tcpListening(port: port) {
            if now() > deadline { throw BenchFailure("S5: broker not listening after 120 s") }
            usleep(500)
        }
        let listening = now() - spawned
        let client = try sender.connect()
        try client.send(.submit(envelope))
        while now() < deadline {
            guard let command = try client.receive(timeoutMs: 100) else { continue }
            for e in try sender.handle([command], client: client) {
                if case .accepted(let id, _) = e, id == envelope.id { return (listening, now() - spawned) }
                if case .refused(_, let error) = e { throw BenchFailure("S5: refused: \(error.reason)") }
            }
        }
        throw BenchFailure("S5: no acceptance within 120 s")
    }

    func restartAndQueries(search100k: BenchBus?) throws -> [Row] {
        // Baseline: the same restart on an empty store.
        var empty = Figure(values: [])
        do {
            let bus = try BenchBus(root: root, name: "s5-empty", agencies: ["pengirim", "penerima"], binDirectory: bin)
            defer { bus.remove(keep: keep) }
            let port = try freePort()
            try bus.startBroker(port: port)  // creates the store
            bus.stopBroker()
            let sender = try AgencyNode(directory: bus.node("pengirim"), logger: Logger(label: "bench", minimum: .error))
            for _ in 0..<scale.runsFast {
                empty.values.append(try firstAcceptance(bus: bus, port: port, sender: sender).accepted)
                bus.stopBroker()
            }
        }
        let bus = try BenchBus(root: root, name: "s5", agencies: ["pengirim", "penerima"], binDirectory: bin)
        defer { bus.remove(keep: keep) }
        let senderKey = try KeyFile.load(at: NodeConfig.keyPath(in: bus.node("pengirim")))
        say("S5: generating a broker store of \(scale.s5Messages) messages (\(scale.s5Pending) undelivered) and a \(scale.treeItems)-item disposition tree")
        let g0 = now()
        let history = try Datasets.brokerHistory(path: bus.brokerData + "/queue.sqlite", sender: "pengirim", recipient: "penerima",
                                                 key: senderKey, count: scale.s5Messages, pending: scale.s5Pending,
                                                 treeItems: scale.treeItems)
        say("S5: store generated in \(fmt(now() - g0)) s")
        let port = try freePort()
        try bus.setEndpoint(port: port)
        let sender = try AgencyNode(directory: bus.node("pengirim"), logger: Logger(label: "bench", minimum: .error))
        var restart = Figure(values: []), listen = Figure(values: [])
        for run in 0..<scale.runsFast {
            bus.stopBroker()
            let r = try firstAcceptance(bus: bus, port: port, sender: sender)
            restart.values.append(r.accepted)
            listen.values.append(r.listening)
            say("S5 restart \(run + 1)/\(scale.runsFast): listening after \(fmt(r.listening * 1000)) ms, first acceptance after \(fmt(r.accepted * 1000)) ms")
        }
        // S6 trace (answered by this broker from its 1,000,000-message store).
        say("S6: trace of the \(history.items)-item tree, \(scale.traceReps) times")
        func traceTimes(_ id: String) throws -> [Double] {
            var out: [Double] = []
            for _ in 0..<scale.traceReps {
                let t0 = now()
                let report = try sender.trace(id: id, timeout: 10)
                guard let tree = TraceTree.build(report, today: CalendarDate.today()) else { throw BenchFailure("S6: empty trace") }
                _ = TraceTree.render(tree, colour: false)
                out.append((now() - t0) * 1000)
            }
            return out
        }
        let trace = try traceTimes(history.treeLetter)
        let traceFloor = try traceTimes(history.smallLetter)
        bus.stopBroker()

        say("S6: generating a node inbox of \(scale.s6Letters) letters")
        let g1 = now()
        let busyDay = try Datasets.inbox(directory: bus.node("penerima"), sender: "pengirim", senderKey: senderKey, count: scale.s6Letters)
        say("S6: inbox generated in \(fmt(now() - g1)) s; queries")
        let node = try AgencyNode(directory: bus.node("penerima"), logger: Logger(label: "bench", minimum: .error))
        let q = queries(node: node, busyDay: busyDay)
        let letters = "\(scale.s6Letters / 1000)k"
        func row(_ name: String, _ values: [Double], limit: String = "target", ratioTo: Double = 20) -> [Row] {
            let p50 = percentile(values, 50), p99 = percentile(values, 99)
            return [Row(scenario: "S6 \(name)", metric: "p99 (p50 \(fmt(p50)) ms)", figure: Figure(values: [p99]), unit: "ms",
                        runs: "\(values.count) queries", target: "p99 < 20 ms", met: p99 < 20,
                        limit: limit == "target" ? "—" : limit, ratio: limit == "target" ? nil : ratioTo / p99)]
        }
        var rows: [Row] = [
            Row(scenario: "S5 restart, \(scale.s5Messages / 1000)k-message store", metric: "process start → first accepted submission",
                figure: restart, unit: "s", runs: runs(scale.runsFast), target: "< 2 s", met: restart.median < 2,
                limit: "same on an empty store: \(fmt(empty.median * 1000)) ms", ratio: empty.median / restart.median),
            Row(scenario: "S5 restart", metric: "process start → listening", figure: listen, unit: "s", runs: runs(scale.runsFast)),
        ]
        rows += row("trace, \(history.items)-item tree (broker, \(scale.s5Messages / 1000)k store)", trace,
                    limit: "trace of a 1-item letter p99 \(fmt(percentile(traceFloor, 99))) ms", ratioTo: percentile(traceFloor, 99))
        rows += row("inbox page (100), \(letters) inbox", q.page)
        rows += row("search 'berkas…' (1 in 20,000), \(letters) inbox", q.rare)
        rows += row("search a topic word (1 in 10), \(letters) inbox", q.common)
        rows += row("agenda of a day (\(q.dayLetters) letters), \(letters) inbox", q.agenda)
        if let small = search100k {
            let n2 = try AgencyNode(directory: small.node("penerima"), logger: Logger(label: "bench", minimum: .error))
            let q2 = queries(node: n2, busyDay: CalendarDate.today())
            let count = try n2.store.count(direction: "in")
            rows += row("search 'berkas…', \(count / 1000)k inbox (S4's)", q2.rare)
            rows += row("search a topic word, \(count / 1000)k inbox (S4's)", q2.common)
        }
        return rows
    }

    struct QueryTimes {
        var page: [Double] = [], rare: [Double] = [], common: [Double] = [], agenda: [Double] = []
        var dayLetters = 0
    }

    /// What `bus-cli inbox`, `search` and `agenda` do, timed in-process on the node's store.
    func queries(node: AgencyNode, busyDay: String) -> QueryTimes {
        var q = QueryTimes()
        let decoder = JSONDecoder()
        func time(_ body: () throws -> Void) -> Double {
            let t0 = now()
            do { try body() } catch { say("query failed: \(error)") }
            return (now() - t0) * 1000
        }
        for i in 0..<scale.queryReps {
            q.page.append(time {
                for m in try node.store.received(limit: 100) where m.kind == "letter" { _ = try decoder.decode(Letter.self, from: m.header) }
            })
            q.rare.append(time { _ = try node.store.search("berkas\((i * 7919) % 20_000)") })
            q.common.append(time { _ = try node.store.search(Vocabulary.topics[i % 20]) })
            if i < max(10, scale.queryReps / 4) {
                q.agenda.append(time {
                    let r = try AgendaReport.build(store: node.store, agency: node.agency, from: busyDay, to: busyDay, direction: nil)
                    q.dayLetters = r.letters.count
                    _ = r.text()
                })
            }
        }
        return q
    }
}
