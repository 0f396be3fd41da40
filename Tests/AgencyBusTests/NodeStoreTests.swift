import Foundation
import Testing
@testable import AgencyBus

private struct Boom: Error {}

@Suite("NodeStore")
struct NodeStoreTests {
    let dir: TemporaryDirectory
    let store: NodeStore
    let key = SecretKey.generate()

    init() throws {
        dir = try TemporaryDirectory()
        store = try NodeStore(path: dir.file("inbox.sqlite"))
    }

    /// A sealed letter and the attachment infos its header lists.
    private func letter(to: [String] = ["bappenas"], subject: String = "Perihal", attachments: [Data] = []) throws -> (Envelope, Letter) {
        let e = try Fixtures.sealedLetter(key: key, to: to, subject: subject, attachments: attachments)
        return (e, try e.decode(Letter.self))
    }

    @discardableResult
    private func insert(_ e: Envelope, _ l: Letter, direction: String = "in", state: String = "stored", recipients: [String] = []) throws -> Bool {
        try store.db.inTransaction {
            try store.insert(e, direction: direction, state: state, subject: l.subject, attachments: l.attachments, recipients: recipients)
        }
    }

    @Test func opensDurably() throws {
        #expect(try store.db.queryOne("PRAGMA journal_mode") { $0.text(0) } == "wal")
        #expect(try store.db.queryOne("PRAGMA synchronous") { $0.int(0) } == 2)
        #expect(try store.db.integrityCheck() == "ok")
    }

    @Test func insertDeduplicatesByID() throws {
        let (e, l) = try letter(attachments: [Fixtures.bytes(10)])
        #expect(try insert(e, l) == true)
        #expect(try insert(e, l) == false)
        #expect(try store.count(direction: "in") == 1)
        #expect(try store.db.queryOne("SELECT COUNT(*) FROM attachments") { $0.int(0) } == 1)
        #expect(try store.db.integrityCheck() == "ok")
    }

    @Test func insertAndReadBack() throws {
        let files = [Fixtures.bytes(4096, seed: 3), Fixtures.bytes(1, seed: 4)]
        let (e, l) = try letter(subject: "Undangan", attachments: files)
        try insert(e, l)
        let m = try #require(try store.message(id: e.id))
        #expect(m.id == e.id)
        #expect(m.kind == "letter")
        #expect(m.direction == "in")
        #expect(m.sender == "kemenpanrb")
        #expect(m.subject == "Undangan")
        #expect(m.state == "stored")
        #expect(m.header == e.header)
        #expect(m.created == e.common.created)
        #expect(m.stateReason == nil)
        #expect(m.acceptedAt == nil)
        let back = try #require(try store.envelope(id: e.id))
        #expect(back.attachments == files)
        try back.verify(with: key.publicKey)
        #expect(try store.message(id: MessageID.generate()) == nil)
    }

    @Test func outboxIsQueuedOnlyInSeqOrder() throws {
        var queued: [String] = []
        for i in 0..<4 {
            let (e, l) = try letter(subject: "out \(i)")
            try insert(e, l, direction: "out", state: "queued", recipients: ["bappenas"])
            queued.append(e.id)
        }
        let (inE, inL) = try letter()
        try insert(inE, inL)
        #expect(try store.outbox().map(\.id) == queued)

        try store.setState(id: queued[1], state: "accepted", acceptedAt: "2026-12-03T00:00:00.000Z")
        try store.setState(id: queued[2], state: "refused", reason: "invalid: subject")
        #expect(try store.outbox().map(\.id) == [queued[0], queued[3]])
        #expect(try store.message(id: queued[1])?.acceptedAt == "2026-12-03T00:00:00.000Z")
        #expect(try store.message(id: queued[2])?.stateReason == "invalid: subject")

        // Back to queued (a resubmission): acceptedAt stays, the reason clears.
        try store.setState(id: queued[1], state: "queued")
        try store.setState(id: queued[2], state: "queued")
        #expect(try store.outbox().map(\.id) == queued)
        #expect(try store.message(id: queued[1])?.acceptedAt == "2026-12-03T00:00:00.000Z")
        #expect(try store.message(id: queued[2])?.stateReason == nil)
    }

    @Test func messagesAreNewestFirstByDirection() throws {
        var ins: [String] = []
        for _ in 0..<3 {
            let (e, l) = try letter()
            try insert(e, l)
            ins.append(e.id)
        }
        let (o, ol) = try letter()
        try insert(o, ol, direction: "out", state: "queued")
        #expect(try store.messages(direction: "in").map(\.id) == ins.reversed())
        #expect(try store.messages(direction: "in", limit: 2).map(\.id) == Array(ins.reversed().prefix(2)))
        #expect(try store.messages(direction: "out").map(\.id) == [o.id])
        #expect(try store.count(direction: "in") == 3)
        #expect(try store.count(direction: "out") == 1)
    }

    @Test func directionIsChecked() throws {
        let (e, l) = try letter()
        #expect(throws: SQLiteError.self) { try insert(e, l, direction: "sideways") }
        #expect(try store.message(id: e.id) == nil)
    }

    @Test func deliveriesRecordReceipts() throws {
        let (e, l) = try letter(to: ["bappenas", "anri"])
        try insert(e, l, direction: "out", state: "accepted", recipients: ["bappenas", "anri"])
        var ds = try store.deliveries(id: e.id)
        #expect(ds.map(\.recipient) == ["anri", "bappenas"])
        #expect(ds.allSatisfy { $0.state == "pending" && $0.at == nil })

        try store.recordDelivery(messageID: e.id, recipient: "bappenas", state: "stored", reason: nil,
                                 receiptID: MessageID.generate(), at: "2026-12-03T01:02:03.004Z")
        try store.recordDelivery(messageID: e.id, recipient: "anri", state: "rejected", reason: "bad signature",
                                 receiptID: MessageID.generate(), at: "2026-12-03T01:02:03.005Z")
        ds = try store.deliveries(id: e.id)
        #expect(ds.map(\.state) == ["rejected", "stored"])
        #expect(ds[0].reason == "bad signature")
        #expect(ds[1].at == "2026-12-03T01:02:03.004Z")

        // Only sent letters carry deliveries: a receipt naming an inbox letter changes nothing.
        let (inE, inL) = try letter()
        try insert(inE, inL)
        try store.recordDelivery(messageID: inE.id, recipient: "bappenas", state: "stored", reason: nil, receiptID: "r", at: "t")
        #expect(try store.deliveries(id: inE.id).isEmpty)
    }

    @Test func evidenceIsStoredOnce() throws {
        let receipt = Receipt(id: MessageID.generate(), from: "bappenas", created: .now(), to: "kemenpanrb",
                              items: [.init(id: MessageID.generate(), sha256: String(repeating: "a", count: 64), status: "stored")])
        let e = try Envelope.seal(receipt, with: key)
        try store.storeEvidence(e)
        try store.storeEvidence(e)
        #expect(try store.db.queryOne("SELECT COUNT(*) FROM evidence WHERE id = ?", e.id) { $0.int(0) } == 1)
        #expect(try store.db.queryOne("SELECT signer FROM evidence WHERE id = ?", e.id) { $0.text(0) } == "bappenas")
    }

    @Test func rejectedLettersAreKeptAsEvidence() throws {
        let (e, _) = try letter()
        try store.recordRejected(e, reason: "bad-signature: ...")
        #expect(try store.db.queryOne("SELECT reason FROM rejected WHERE id = ?", e.id) { $0.text(0) } == "bad-signature: ...")
        #expect(try store.message(id: e.id) == nil)
    }

    @Test func rollbackOnThrowLeavesNothing() throws {
        let (e, l) = try letter(attachments: [Fixtures.bytes(50)])
        #expect(throws: Boom.self) {
            try store.db.inTransaction {
                try store.insert(e, direction: "out", state: "queued", subject: l.subject, attachments: l.attachments, recipients: ["bappenas"])
                throw Boom()
            }
        }
        #expect(try store.message(id: e.id) == nil)
        #expect(try store.outbox().isEmpty)
        #expect(try store.db.queryOne("SELECT (SELECT COUNT(*) FROM attachments) + (SELECT COUNT(*) FROM deliveries)") { $0.int(0) } == 0)
        #expect(try insert(e, l) == true)  // and the id is free again
    }

    @Test func nestedSavepointRollsBackAlone() throws {
        let (a, al) = try letter(), (b, bl) = try letter()
        try store.db.inTransaction {
            try store.insert(a, direction: "in", state: "stored", subject: al.subject, attachments: [])
            do {
                try store.db.inTransaction {
                    try store.insert(b, direction: "in", state: "stored", subject: bl.subject, attachments: [])
                    try store.setState(id: a.id, state: "read")
                    throw Boom()
                }
            } catch is Boom {}
        }
        #expect(try store.message(id: a.id)?.state == "stored")
        #expect(try store.message(id: b.id) == nil)
        #expect(try store.db.integrityCheck() == "ok")
    }

    @Test func survivesReopen() throws {
        let (e, l) = try letter()
        try insert(e, l)
        let again = try NodeStore(path: dir.file("inbox.sqlite"))
        #expect(try again.message(id: e.id)?.header == e.header)
        #expect(try again.count(direction: "in") == 1)
    }
}
