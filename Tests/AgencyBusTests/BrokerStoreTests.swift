import Foundation
import Testing
@testable import AgencyBus

private struct Boom: Error {}

@Suite("BrokerStore")
struct BrokerStoreTests {
    let dir: TemporaryDirectory
    let store: BrokerStore
    let key = SecretKey.generate()

    init() throws {
        dir = try TemporaryDirectory()
        store = try BrokerStore(path: dir.file("queue.sqlite"))
    }

    private func letter(to: [String] = ["bappenas"], attachments: [Data] = []) throws -> Envelope {
        try Fixtures.sealedLetter(key: key, to: to, attachments: attachments)
    }

    private func count(_ table: String) throws -> Int64 {
        try store.db.queryOne("SELECT COUNT(*) FROM \(table)") { $0.int(0) } ?? -1
    }

    @Test func opensDurably() throws {
        #expect(try store.db.queryOne("PRAGMA journal_mode") { $0.text(0) } == "wal")
        #expect(try store.db.queryOne("PRAGMA synchronous") { $0.int(0) } == 2)  // FULL
        #expect(try store.db.queryOne("PRAGMA foreign_keys") { $0.int(0) } == 1)
        #expect(try store.db.integrityCheck() == "ok")
    }

    @Test func insertAndReadBack() throws {
        let files = [Fixtures.bytes(5000, seed: 1), Data(), Fixtures.bytes(3, seed: 2)]
        let e = try letter(to: ["bappenas/settama", "anri"], attachments: files)
        let now = Timestamp.now()
        try store.db.inTransaction { try store.insert(e, sender: "kemenpanrb", recipients: ["bappenas", "anri"], acceptedAt: now) }

        let m = try #require(try store.message(id: e.id))
        #expect(m.id == e.id)
        #expect(m.kind == "letter")
        #expect(m.sender == "kemenpanrb")
        #expect(m.hash == e.hash)

        let back = try #require(try store.envelope(id: e.id))
        #expect(back.header == e.header)
        #expect(back.signature == e.signature)
        #expect(back.attachments == files)
        try back.verify(with: key.publicKey)

        #expect(try store.message(id: MessageID.generate()) == nil)
        #expect(try store.envelope(id: MessageID.generate()) == nil)
        #expect(try store.pendingCounts() == ["bappenas": 1, "anri": 1])
        #expect(try store.db.integrityCheck() == "ok")
    }

    @Test func pendingIsInSeqOrderWithCursorAndLimit() throws {
        var ids: [String] = []
        for _ in 0..<5 {
            let e = try letter()
            try store.db.inTransaction { try store.insert(e, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now()) }
            ids.append(e.id)
        }
        let other = try letter(to: ["anri"])
        try store.db.inTransaction { try store.insert(other, sender: "kemenpanrb", recipients: ["anri"], acceptedAt: .now()) }

        let all = try store.pending(for: "bappenas", after: 0, limit: 100)
        #expect(all.map(\.messageID) == ids)
        #expect(all.map(\.seq) == all.map(\.seq).sorted())
        #expect(Set(all.map(\.seq)).count == 5)

        let firstTwo = try store.pending(for: "bappenas", after: 0, limit: 2)
        #expect(firstTwo.map(\.messageID) == Array(ids.prefix(2)))
        let rest = try store.pending(for: "bappenas", after: firstTwo[1].seq, limit: 100)
        #expect(rest.map(\.messageID) == Array(ids.dropFirst(2)))
        #expect(try store.pending(for: "anri", after: 0, limit: 100).map(\.messageID) == [other.id])
        #expect(try store.pending(for: "pemkot-bandung", after: 0, limit: 100).isEmpty)
    }

    @Test func closeDelivery() throws {
        let e = try letter(to: ["bappenas", "anri"])
        try store.db.inTransaction { try store.insert(e, sender: "kemenpanrb", recipients: ["bappenas", "anri"], acceptedAt: .now()) }
        let d = try #require(try store.delivery(messageID: e.id, recipient: "bappenas"))
        #expect(d.state == .pending)
        #expect(d.messageSender == "kemenpanrb")
        #expect(d.messageHash == e.hash)
        #expect(d.messageKind == "letter")
        #expect(try store.delivery(messageID: e.id, recipient: "pemkot-bandung") == nil)

        #expect(try store.close(deliverySeq: d.seq, state: .stored, reason: nil, at: .now()))
        #expect(try store.delivery(messageID: e.id, recipient: "bappenas")?.state == .stored)
        // Closing again changes nothing (a repeated receipt), nor may it flip the outcome.
        #expect(try store.close(deliverySeq: d.seq, state: .rejected, reason: "late", at: .now()) == false)
        #expect(try store.delivery(messageID: e.id, recipient: "bappenas")?.state == .stored)

        #expect(try store.pending(for: "bappenas", after: 0, limit: 10).isEmpty)
        #expect(try store.pending(for: "anri", after: 0, limit: 10).count == 1)
        #expect(try store.pendingCounts() == ["anri": 1])

        let a = try #require(try store.delivery(messageID: e.id, recipient: "anri"))
        #expect(try store.close(deliverySeq: a.seq, state: .rejected, reason: "bad signature", at: .now()))
        #expect(try store.delivery(messageID: e.id, recipient: "anri")?.state == .rejected)
        #expect(try store.pendingCounts().isEmpty)
    }

    @Test func sameIDCannotBeStoredTwice() throws {
        let e = try letter()
        try store.db.inTransaction { try store.insert(e, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now()) }
        #expect(throws: SQLiteError.self) {
            try store.db.inTransaction { try store.insert(e, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now()) }
        }
        #expect(try count("messages") == 1)
        #expect(try count("deliveries") == 1)
    }

    @Test func rollbackOnThrowLeavesNothing() throws {
        let e = try letter(attachments: [Fixtures.bytes(100)])
        #expect(throws: Boom.self) {
            try store.db.inTransaction {
                try store.insert(e, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now())
                #expect(try store.message(id: e.id) != nil)  // visible inside
                throw Boom()
            }
        }
        #expect(try store.message(id: e.id) == nil)
        #expect(try count("messages") == 0)
        #expect(try count("attachments") == 0)
        #expect(try count("deliveries") == 0)
        // The connection is usable afterwards.
        try store.db.inTransaction { try store.insert(e, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now()) }
        #expect(try count("messages") == 1)
    }

    @Test func nestedSavepointRollsBackAlone() throws {
        let outer = try letter(), inner = try letter(), after = try letter()
        try store.db.inTransaction {
            try store.insert(outer, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now())
            do {
                try store.db.inTransaction {
                    try store.insert(inner, sender: "kemenpanrb", recipients: ["anri"], acceptedAt: .now())
                    throw Boom()
                }
            } catch is Boom {}
            try store.insert(after, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now())
        }
        #expect(try store.message(id: outer.id) != nil)
        #expect(try store.message(id: inner.id) == nil)
        #expect(try store.message(id: after.id) != nil)
        #expect(try store.pendingCounts() == ["bappenas": 2])
    }

    @Test func nestedSuccessThenOuterThrowRollsBackEverything() throws {
        let a = try letter(), b = try letter()
        #expect(throws: Boom.self) {
            try store.db.inTransaction {
                try store.insert(a, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now())
                try store.db.inTransaction {
                    try store.insert(b, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now())
                }
                throw Boom()
            }
        }
        #expect(try count("messages") == 0)
        // Depth was reset: a new transaction is a real BEGIN (it commits on its own).
        try store.db.inTransaction { try store.insert(a, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now()) }
        let reopened = try BrokerStore(path: dir.file("queue.sqlite"))
        #expect(try reopened.message(id: a.id) != nil)
    }

    @Test func survivesReopenAndMigratesOnce() throws {
        let e = try letter()
        try store.db.inTransaction { try store.insert(e, sender: "kemenpanrb", recipients: ["bappenas"], acceptedAt: .now()) }
        let again = try BrokerStore(path: dir.file("queue.sqlite"))
        #expect(try again.message(id: e.id)?.hash == e.hash)
        #expect(try again.db.queryOne("SELECT COUNT(*) FROM schema_migrations") { $0.int(0) } == Int64(BrokerStore.migrations.count))
        #expect(try again.db.integrityCheck() == "ok")
    }

    @Test func valuesAreBoundNotSpliced() throws {
        // An id full of SQL is only ever a value.
        let evil = "x'); DROP TABLE messages; --"
        #expect(try store.message(id: evil) == nil)
        #expect(try store.pending(for: evil, after: 0, limit: 1).isEmpty)
        #expect(try count("messages") == 0)
    }
}
