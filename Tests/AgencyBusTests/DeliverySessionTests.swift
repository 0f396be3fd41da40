import Foundation
import Testing
@testable import AgencyBus

/// The per-node delivery window: bounded in messages and in bytes.
@Suite("Delivery window")
struct DeliverySessionTests {
    @Test func theWindowIsBoundedInMessagesAndInBytes() {
        var s = DeliverySession(agency: "bappenas", routingID: [1], now: .now())
        #expect(s.room(window: 3, windowBytes: 100) == 3)
        s.sent(messageID: "a", deliverySeq: 1, at: .now(), bytes: 40)
        s.sent(messageID: "b", deliverySeq: 2, at: .now(), bytes: 40)
        #expect(s.room(window: 3, windowBytes: 100) == 1 && s.inFlightBytes == 80)
        s.sent(messageID: "c", deliverySeq: 3, at: .now(), bytes: 40)
        #expect(s.room(window: 10, windowBytes: 100) == 0, "120 bytes in flight: closed by bytes")
        s.receipted(messageID: "a")
        #expect(s.inFlightBytes == 80 && s.room(window: 10, windowBytes: 100) == 8)
        s.receipted(messageID: "a")  // a second receipt for the same message changes nothing
        #expect(s.inFlightBytes == 80 && s.inFlight.count == 2)
        #expect(s.cursor == 3)

        // One message larger than the byte bound still goes when nothing is in flight.
        var big = DeliverySession(agency: "anri", routingID: [2], now: .now())
        #expect(big.room(window: 512, windowBytes: 100) == 512)
        big.sent(messageID: "x", deliverySeq: 7, at: .now(), bytes: 1_000)
        #expect(big.room(window: 512, windowBytes: 100) == 0)

        s.rewind()
        #expect(s.cursor == 0 && s.inFlight.isEmpty && s.inFlightBytes == 0)
    }
}
