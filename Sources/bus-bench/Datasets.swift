import AgencyBus
import Foundation

/// Big stores generated straight into SQLite through the library's store APIs, in big
/// transactions. This is setup, not measurement: the measured parts then use the real broker
/// process and the real node code on these files.
enum Datasets {
    /// Seals letters on all cores (signing dominates), in order.
    static func sealLetters(from: String, to: [String], key: SecretKey, range: Range<Int>, bodyBytes: Int,
                            created: (Int) -> Timestamp) -> [(Envelope, Letter)] {
        let count = range.count
        let out = UnsafeMutableBufferPointer<(Envelope, Letter)?>.allocate(capacity: count)
        out.initialize(repeating: nil)
        defer { out.deallocate() }
        let toAddresses = to.map { Address(agency: $0) }
        let chunks = ProcessInfo.processInfo.activeProcessorCount
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in stride(from: c, to: count, by: chunks) {
                let seed = range.lowerBound + i
                let t = created(seed)
                let letter = Letter(id: MessageID.generate(at: t), from: Address(agency: from), created: t,
                                    number: "ARSIP/\(seed)", date: String(t.text.prefix(10)), to: toAddresses, cc: [],
                                    subject: Vocabulary.subject(seed: seed), body: Vocabulary.body(bytes: bodyBytes, seed: seed),
                                    classification: .biasa, urgency: .biasa, replyTo: nil, attachments: [])
                // try!: sealing a valid letter can fail only on out-of-memory.
                out[i] = (try! Envelope.seal(letter, with: key), letter)
            }
        }
        return out.map { $0! }
    }

    // MARK: - Broker store (S5, and the trace tree of S6)

    struct BrokerHistory {
        var treeLetter: String
        var smallLetter: String
        var items: Int
    }

    /// `count` letters from `sender` to `recipient`, all delivered and receipted except the last
    /// `pending`, with the items, holders and trace events the broker records for them; plus a
    /// letter with a 200-item disposition tree and a one-item letter (trace floor).
    static func brokerHistory(path: String, sender: String, recipient: String, key: SecretKey, count: Int,
                              pending: Int, treeItems: Int) throws -> BrokerHistory {
        let store = try BrokerStore(path: path)
        let chunk = 20_000
        let start = Timestamp.now().milliseconds - Int64(count) * 30_000  // one letter every 30 s, up to now
        var done = 0
        while done < count {
            let n = min(chunk, count - done)
            let sealed = sealLetters(from: sender, to: [recipient], key: key, range: done..<(done + n), bodyBytes: 600) {
                Timestamp(milliseconds: start + Int64($0) * 30_000)
            }
            try store.db.inTransaction {
                for (k, (envelope, letter)) in sealed.enumerated() {
                    let at = Timestamp(text: letter.created)!
                    try store.insertItem(.init(id: letter.id, letterID: letter.id, kind: "letter", parent: nil, sender: sender,
                                               summary: #"{"subject":"\#(letter.subject)","to":["\#(recipient)"],"urgency":"biasa"}"#),
                                         holders: [recipient])
                    try store.insert(envelope, sender: sender, recipients: [recipient], acceptedAt: at)
                    let deliverySeq = store.db.lastInsertRowID
                    try store.recordEvent(TraceEvent(letter: letter.id, item: letter.id, kind: "sent", at: at, place: sender, signer: sender))
                    try store.recordEvent(TraceEvent(letter: letter.id, item: letter.id, kind: "accepted", at: at, place: BenchBus.brokerID, signer: BenchBus.brokerID))
                    if done + k < count - pending {
                        let later = Timestamp(milliseconds: at.milliseconds + 400)
                        try store.close(deliverySeq: deliverySeq, state: .stored, reason: nil, at: later)
                        try store.recordEvent(TraceEvent(letter: letter.id, item: letter.id, kind: "delivered", at: later, place: recipient, signer: BenchBus.brokerID))
                        try store.recordEvent(TraceEvent(letter: letter.id, item: letter.id, kind: "stored", at: later, place: recipient, signer: recipient))
                    }
                }
            }
            done += n
            if done % 200_000 == 0 || done == count { say("  broker store: \(done)/\(count) messages") }
        }
        // The disposition tree: each disposition hangs under a random earlier item, alternately
        // disposed by the two agencies; every hop has its disposed/accepted/delivered/stored/read/done events.
        let tree = sealLetters(from: sender, to: [recipient], key: key, range: count..<(count + 2), bodyBytes: 600) { _ in .now() }
        var ids: [String] = []
        try store.db.inTransaction {
            for (envelope, letter) in tree {
                let at = Timestamp.now()
                try store.insertItem(.init(id: letter.id, letterID: letter.id, kind: "letter", parent: nil, sender: sender,
                                           summary: #"{"subject":"\#(letter.subject)","to":["\#(recipient)"],"urgency":"segera"}"#),
                                     holders: [recipient])
                try store.insert(envelope, sender: sender, recipients: [recipient], acceptedAt: at)
                for kind in ["sent", "accepted", "delivered", "stored", "read"] {
                    try store.recordEvent(TraceEvent(letter: letter.id, item: letter.id, kind: kind, at: at, place: recipient, signer: recipient))
                }
            }
            let letterID = tree[0].1.id
            ids = [letterID]
            var rng = SystemRandomNumberGenerator()
            for i in 1..<treeItems {
                let id = MessageID.generate()
                let parent = ids[Int.random(in: 0..<ids.count, using: &rng)]
                let (by, to) = i % 2 == 0 ? (sender, recipient) : (recipient, sender)
                let at = Timestamp.now()
                try store.insertItem(.init(id: id, letterID: letterID, kind: "disposition", parent: parent, sender: by,
                                           summary: #"{"due":"2030-01-01","instructions":["tindak-lanjuti"],"note":"Mohon ditindaklanjuti","to":["\#(to)/tu"],"urgency":"segera"}"#),
                                     holders: [to])
                for kind in ["disposed", "accepted", "delivered", "stored", "read", "done"] {
                    try store.recordEvent(TraceEvent(letter: letterID, item: id, kind: kind, at: at, place: kind == "disposed" ? by : to,
                                                     signer: kind == "accepted" || kind == "delivered" ? BenchBus.brokerID : to,
                                                     detail: kind == "disposed" ? "tindak-lanjuti" : nil))
                }
                ids.append(id)
            }
        }
        return BrokerHistory(treeLetter: ids[0], smallLetter: tree[1].1.id, items: ids.count)
    }

    // MARK: - Node inbox (S6)

    /// `count` letters received by the node at `directory`, spread over the last 365 days
    /// (agenda numbers and days follow that clock), written with `NodeStore.insert` — the same
    /// call `AgencyNode.handle` makes for a delivery — in transactions of 20,000.
    /// Returns the busiest day (YYYY-MM-DD, agency zone).
    static func inbox(directory: String, sender: String, senderKey: SecretKey, count: Int) throws -> String {
        let node = try AgencyNode(directory: directory, logger: Logger(label: "bench-gen", minimum: .error))
        let store = node.store
        let zone = store.calendar.timeZone
        let clock = Locked(Timestamp.now())
        store.calendar = AgencyCalendar(timeZone: zone, now: { clock.get })
        let span: Int64 = 365 * 86_400_000
        let start = Timestamp.now().milliseconds - span
        let step = span / Int64(max(count, 1))
        var done = 0
        let chunk = 20_000
        while done < count {
            let n = min(chunk, count - done)
            let sealed = sealLetters(from: sender, to: [node.agency], key: senderKey, range: done..<(done + n), bodyBytes: 600) {
                Timestamp(milliseconds: start + Int64($0) * step)
            }
            try store.db.inTransaction {
                for (envelope, letter) in sealed {
                    clock.with { $0 = Timestamp(milliseconds: Timestamp(text: letter.created)!.milliseconds + 60_000) }
                    try store.insert(envelope, direction: "in", state: "stored", subject: letter.subject)
                }
            }
            done += n
            if done % 200_000 == 0 || done == count { say("  node inbox: \(done)/\(count) letters") }
        }
        store.calendar = AgencyCalendar(timeZone: zone)
        // Uniform spread: every day is as busy; take one in the middle.
        let mid = Timestamp(milliseconds: start + span / 2)
        return store.calendar.day(of: mid)
    }
}
