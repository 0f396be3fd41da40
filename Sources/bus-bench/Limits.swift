import AgencyBus
import CSodium
import CZMQ
import Foundation

/// The limits of this machine that bound the scenarios, measured in the same run.
struct MachineLimits {
    /// Raw DEALER→ROUTER→DEALER forwarder, no persistence, no crypto.
    var rawSmallPerSecond = Figure(values: [])      // 2 KiB messages/s
    var rawSmallCurvePerSecond = Figure(values: []) // same with CURVE on every hop
    var rawLargeMBps = Figure(values: [])           // 1 MiB messages, MB/s
    var rawLargeCurveMBps = Figure(values: [])
    var rawLatencyP50 = Figure(values: [])          // one-way at a low rate, ms
    var rawLatencyP99 = Figure(values: [])
    /// Ed25519 over a 2 KiB header, one core.
    var signPerSecond = Figure(values: [])
    /// SHA-256 of attachments (the library's, OpenSSL libcrypto), one core.
    var sha256MBps = Figure(values: [])
    var verifyPerSecond = Figure(values: [])
    /// SQLite WAL synchronous=FULL on this disk.
    var commitsPerSecond = Figure(values: [])       // one 2 KiB row per commit
    var batchedRowsPerSecond = Figure(values: [])   // 100 rows per commit
    var blobMBps = Figure(values: [])               // 1 MiB blobs, 8 per commit
    let cores = ProcessInfo.processInfo.activeProcessorCount

    /// Per-letter CPU of the crypto every 2 KiB letter needs on the relay path: one signature
    /// (sender) and two verifications (broker, recipient node); the batched acceptances and
    /// receipts are amortised and left out. Spread over all cores: the crypto-bound rate.
    var cryptoBoundLettersPerSecond: Double {
        Double(cores) / (1 / signPerSecond.median + 2 / verifyPerSecond.median)
    }

    /// Microseconds CURVE adds per 2 KiB message on the forwarder (two encrypted hops).
    var curveMicrosecondsPerMessage: Double {
        (1 / rawSmallCurvePerSecond.median - 1 / rawSmallPerSecond.median) * 1e6
    }

    var commitMilliseconds: Double { 1000 / commitsPerSecond.median }
}

enum LimitBench {
    static func measure(scale: Scale, runs: Int, directory: String) throws -> MachineLimits {
        var m = MachineLimits()
        for run in 0..<runs {
            say("limits run \(run + 1)/\(runs): raw ZeroMQ forwarder")
            m.rawSmallPerSecond.values.append(try forwarder(size: 2048, count: scale.rawSmallCount, curve: false).perSecond)
            m.rawSmallCurvePerSecond.values.append(try forwarder(size: 2048, count: scale.rawSmallCount, curve: true).perSecond)
            m.rawLargeMBps.values.append(try forwarder(size: 1 << 20, count: scale.rawLargeCount, curve: false).mbps)
            m.rawLargeCurveMBps.values.append(try forwarder(size: 1 << 20, count: scale.rawLargeCount, curve: true).mbps)
            let lat = try forwarderLatency(size: 2048, count: scale.rawLatencyCount, rate: 2000)
            m.rawLatencyP50.values.append(lat.p50)
            m.rawLatencyP99.values.append(lat.p99)
            say("limits run \(run + 1)/\(runs): Ed25519 and SQLite")
            let c = crypto(seconds: scale.limitSeconds)
            m.signPerSecond.values.append(c.sign)
            m.verifyPerSecond.values.append(c.verify)
            m.sha256MBps.values.append(sha256(seconds: scale.limitSeconds))
            let s = try sqlite(directory: directory, seconds: scale.limitSeconds)
            m.commitsPerSecond.values.append(s.commits)
            m.batchedRowsPerSecond.values.append(s.batched)
            m.blobMBps.values.append(s.blobMBps)
        }
        return m
    }

    // MARK: - Raw ZeroMQ forwarder

    /// DEALER (sender) → ROUTER (forwarder front) | forwarder thread | ROUTER (back) → DEALER
    /// (receiver), over TCP loopback, with the same socket options class as the broker
    /// (high-water marks 10,000). Returns messages/s and MB/s from first send to last receipt.
    static func forwarder(size: Int, count: Int, curve: Bool) throws -> (perSecond: Double, mbps: Double) {
        let context = ZMQContext()
        let serverKey = SecretKey.generate()
        let clientKey = SecretKey.generate()
        func server(_ s: ZMQSocket) throws {
            if curve {
                try s.setOption(ZMQ_CURVE_SERVER, Int32(1))
                try s.setOption(ZMQ_CURVE_SECRETKEY, serverKey.curveSecretKey)
            }
        }
        func client(_ s: ZMQSocket) throws {
            if curve {
                try s.makeCurveClient(publicKey: clientKey.publicKey.curvePublicKey, secretKey: clientKey.curveSecretKey,
                                      serverKey: serverKey.publicKey.curvePublicKey)
            }
        }
        let front = try ZMQSocket(context: context, kind: .router, linger: 0)
        let back = try ZMQSocket(context: context, kind: .router, linger: 0)
        for s in [front, back] {
            try s.setOption(ZMQ_SNDHWM, Int32(10_000)); try s.setOption(ZMQ_RCVHWM, Int32(10_000))
            try server(s)
        }
        try back.setOption(ZMQ_ROUTER_MANDATORY, Int32(1))
        try front.bind("tcp://127.0.0.1:*")
        try back.bind("tcp://127.0.0.1:*")
        let frontEndpoint = front.lastEndpoint, backEndpoint = back.lastEndpoint
        let receiverID = Data("receiver".utf8)

        let receiver = try ZMQSocket(context: context, kind: .dealer, linger: 0)
        try receiver.setOption(ZMQ_ROUTING_ID, receiverID)
        try receiver.setOption(ZMQ_RCVHWM, Int32(10_000))
        try client(receiver)
        try receiver.connect(backEndpoint)
        try receiver.send([Data("hello".utf8)])
        let sender = try ZMQSocket(context: context, kind: .dealer, linger: 0)
        try sender.setOption(ZMQ_SNDHWM, Int32(10_000))
        try client(sender)
        try sender.connect(frontEndpoint)
        // The receiver says hello so the back ROUTER knows it before traffic starts.
        guard try ZMQPoller.pollIn([back], timeoutMs: 5_000)[0], try back.receive() != nil else {
            throw BenchFailure("raw forwarder: the receiver did not connect")
        }
        let stop = Locked(false)
        nonisolated(unsafe) let rawReceiver = receiver  // used by its own thread only (libzmq's rule)
        let forwarderThread = startForwarder(front: front, back: back, receiverID: receiverID, stop: stop)
        let payload = Data(repeating: 0x61, count: size)
        let finished = Locked<Double?>(nil)
        let started = now()
        let receiving = Worker("raw-receiver") {
            var got = 0
            while got < count {
                guard try ZMQPoller.pollIn([rawReceiver], timeoutMs: 10_000)[0] else { throw BenchFailure("raw forwarder stalled at \(got)") }
                while got < count, try rawReceiver.receive(dontWait: true) != nil { got += 1 }
            }
            finished.with { $0 = now() }
        }
        for _ in 0..<count { try sender.send([payload]) }
        try receiving.join()
        stop.with { $0 = true }
        try forwarderThread.join()
        let seconds = (finished.get ?? now()) - started
        return (Double(count) / seconds, Double(count * size) / seconds / 1e6)
    }

    /// The forwarder thread: every message from `front` goes to the receiver behind `back`,
    /// until `stop`. Each socket is used by that thread only (libzmq's rule), which the
    /// compiler cannot see.
    static func startForwarder(front: ZMQSocket, back: ZMQSocket, receiverID: Data, stop: Locked<Bool>) -> Worker {
        nonisolated(unsafe) let (front, back) = (front, back)
        return Worker("raw-forwarder") {
            while !stop.get {
                guard try ZMQPoller.pollIn([front], timeoutMs: 50)[0] else { continue }
                while let msg = try front.receive(dontWait: true) { try back.send([receiverID] + msg.frames.dropFirst()) }
            }
        }
    }

    /// One-way latency through the forwarder at a fixed low rate (send time travels in the
    /// payload; same process, same clock). Milliseconds.
    static func forwarderLatency(size: Int, count: Int, rate: Double) throws -> (p50: Double, p99: Double) {
        let context = ZMQContext()
        let front = try ZMQSocket(context: context, kind: .router, linger: 0)
        let back = try ZMQSocket(context: context, kind: .router, linger: 0)
        try front.bind("tcp://127.0.0.1:*")
        try back.bind("tcp://127.0.0.1:*")
        let receiverID = Data("receiver".utf8)
        let receiver = try ZMQSocket(context: context, kind: .dealer, linger: 0)
        try receiver.setOption(ZMQ_ROUTING_ID, receiverID)
        try receiver.connect(back.lastEndpoint)
        try receiver.send([Data("hello".utf8)])
        let sender = try ZMQSocket(context: context, kind: .dealer, linger: 0)
        try sender.connect(front.lastEndpoint)
        guard try ZMQPoller.pollIn([back], timeoutMs: 5_000)[0], try back.receive() != nil else {
            throw BenchFailure("raw forwarder: the receiver did not connect")
        }
        let stop = Locked(false)
        nonisolated(unsafe) let rawReceiver = receiver  // used by its own thread only (libzmq's rule)
        let forwarderThread = startForwarder(front: front, back: back, receiverID: receiverID, stop: stop)
        let latencies = Locked<[Double]>([])
        let receiving = Worker("raw-receiver") {
            var got = 0
            while got < count {
                guard try ZMQPoller.pollIn([rawReceiver], timeoutMs: 10_000)[0] else { throw BenchFailure("raw latency stalled") }
                while got < count, let msg = try rawReceiver.receive(dontWait: true) {
                    let sent = msg.frames[0].prefix(8).withUnsafeBytes { $0.loadUnaligned(as: Double.self) }
                    let at = now()
                    latencies.with { $0.append((at - sent) * 1000) }
                    got += 1
                }
            }
        }
        let start = now()
        var body = Data(repeating: 0x61, count: size)
        for i in 0..<count {
            let due = start + Double(i) / rate
            while now() < due { usleep(50) }
            var t = now()
            withUnsafeBytes(of: &t) { body.replaceSubrange(0..<8, with: $0) }
            try sender.send([body])
        }
        try receiving.join()
        stop.with { $0 = true }
        try forwarderThread.join()
        let l = latencies.get
        return (percentile(l, 50), percentile(l, 99))
    }

    // MARK: - Ed25519

    static func crypto(seconds: Double) -> (sign: Double, verify: Double) {
        let key = SecretKey.generate()
        let message = Data(Vocabulary.body(bytes: 2048, seed: 1).utf8)
        var n = 0
        var signature = Data()
        var t0 = now()
        while now() - t0 < seconds {
            for _ in 0..<100 { signature = key.sign(message) }
            n += 100
        }
        let sign = Double(n) / (now() - t0)
        n = 0
        t0 = now()
        var ok = true
        while now() - t0 < seconds {
            for _ in 0..<100 { ok = ok && key.publicKey.verify(signature: signature, of: message) }
            n += 100
        }
        precondition(ok, "Ed25519 verification failed in the limit bench")
        return (sign, Double(n) / (now() - t0))
    }

    static func sha256(seconds: Double) -> Double {
        let data = Data(repeating: 0x64, count: 1 << 20)
        var n = 0
        let t0 = now()
        while now() - t0 < seconds { _ = SHA256.hash(data); n += 1 }
        return Double(n) * Double(1 << 20) / (now() - t0) / 1e6
    }

    // MARK: - SQLite

    /// Durable commits on this disk through the library's connection (WAL, synchronous=FULL).
    static func sqlite(directory: String, seconds: Double) throws -> (commits: Double, batched: Double, blobMBps: Double) {
        let path = directory + "/limits-\(UUID().uuidString).sqlite"
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let db = try SQLiteConnection(path: path)
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        let row = Data(repeating: 0x62, count: 2048)
        var n = 0
        var t0 = now()
        while now() - t0 < seconds {
            try db.inTransaction { try db.run("INSERT INTO t (data) VALUES (?)", row) }
            n += 1
        }
        let commits = Double(n) / (now() - t0)
        n = 0
        t0 = now()
        while now() - t0 < seconds {
            try db.inTransaction { for _ in 0..<100 { try db.run("INSERT INTO t (data) VALUES (?)", row) } }
            n += 100
        }
        let batched = Double(n) / (now() - t0)
        let blob = Data(repeating: 0x63, count: 1 << 20)
        n = 0
        t0 = now()
        while now() - t0 < seconds {
            try db.inTransaction { for _ in 0..<8 { try db.run("INSERT INTO t (data) VALUES (?)", blob) } }
            n += 8
            if n % 256 == 0 { try db.execute("DELETE FROM t") }
        }
        let blobMBps = Double(n) * Double(1 << 20) / (now() - t0) / 1e6
        return (commits, batched, blobMBps)
    }
}
