import Foundation
import Testing
@testable import AgencyBus

@Suite("MessageID")
struct MessageIDTests {
    static let crockford = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    @Test func generatedIDsAreValidULIDs() {
        for _ in 0..<500 {
            let id = MessageID.generate()
            #expect(id.count == 26)
            #expect(MessageID.isValid(id))
            #expect(id.allSatisfy { Self.crockford.contains($0) })
            #expect(id.first! <= "7")  // 128 bits: the first digit carries 3
        }
    }

    @Test func idsAreUniqueWithinOneMillisecond() {
        let t = Timestamp(milliseconds: 1_796_000_000_000)
        let ids = (0..<2000).map { _ in MessageID.generate(at: t) }
        #expect(Set(ids).count == ids.count)
        // Same millisecond: the same 10-digit time prefix.
        #expect(Set(ids.map { $0.prefix(10) }).count == 1)
    }

    @Test func idsSortByTimeAcrossMilliseconds() {
        let base: Int64 = 1_796_000_000_000
        var previous = MessageID.generate(at: Timestamp(milliseconds: base))
        for step in 1...300 {
            let next = MessageID.generate(at: Timestamp(milliseconds: base + Int64(step)))
            #expect(previous < next, "\(previous) !< \(next)")
            previous = next
        }
        // Random instants: sorting ids sorts times.
        let times = (0..<200).map { _ in Int64.random(in: 0..<(1 << 48)) }
        let ids = times.map { MessageID.generate(at: Timestamp(milliseconds: $0)) }
        let byID = ids.sorted().map { MessageID.timestamp(of: $0)!.milliseconds }
        #expect(byID == times.sorted())
    }

    @Test func nowIDsAreOrderedAcrossMilliseconds() async throws {
        let a = MessageID.generate()
        try await Task.sleep(nanoseconds: 3_000_000)
        let b = MessageID.generate()
        #expect(a < b)
    }

    @Test(arguments: [Int64(0), 1, 1_700_000_000_000, 1_796_000_000_123, (Int64(1) << 48) - 1])
    func timestampDecodesBack(ms: Int64) throws {
        let id = MessageID.generate(at: Timestamp(milliseconds: ms))
        #expect(MessageID.timestamp(of: id) == Timestamp(milliseconds: ms))
    }

    @Test func timestampOfNow() throws {
        let before = Timestamp.now()
        let id = MessageID.generate()
        let after = Timestamp.now()
        let t = try #require(MessageID.timestamp(of: id))
        #expect(before <= t && t <= after)
    }

    @Test func knownULID() {
        // Standard ULID layout (github.com/ulid/spec): 10 digits of 48-bit milliseconds, then
        // 16 digits of randomness. 1469918176385 ms is "01ARYZ6S41".
        #expect(MessageID.isValid("01ARYZ6S41TSV4RRFFQ69G5FAV"))
        #expect(MessageID.timestamp(of: "01ARYZ6S41TSV4RRFFQ69G5FAV")?.milliseconds == 1_469_918_176_385)
        #expect(MessageID.generate(at: Timestamp(milliseconds: 1_469_918_176_385)).hasPrefix("01ARYZ6S41"))
        #expect(MessageID.timestamp(of: "01ARZ3NDEKTSV4RRFFQ69G5FAV")?.milliseconds == 1_469_922_850_259)
    }

    @Test(arguments: ["", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVV", "01arz3ndektsv4rrffq69g5fav",
                      "01ARZ3NDEKTSV4RRFFQ69G5FAI", "01ARZ3NDEKTSV4RRFFQ69G5FAL", "01ARZ3NDEKTSV4RRFFQ69G5FAO",
                      "01ARZ3NDEKTSV4RRFFQ69G5FAU", "81ARZ3NDEKTSV4RRFFQ69G5FAV", "Z1ARZ3NDEKTSV4RRFFQ69G5FAV",
                      "01ARZ3NDEKTSV4RRFFQ69G5FA ", "01ARZ3NDEKTSV4RRFFQ69G5FA-", "01ARZ3NDEKTSV4RRFFQ69G5FAÉ"])
    func invalidTexts(text: String) {
        #expect(!MessageID.isValid(text))
        #expect(MessageID.timestamp(of: text) == nil)
    }

    @Test func largestValidULID() {
        #expect(MessageID.isValid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"))
        #expect(MessageID.timestamp(of: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")?.milliseconds == (1 << 48) - 1)
    }
}
