import Foundation
import Testing
@testable import AgencyBus

@Suite("Timestamp and CalendarDate")
struct TimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_700_000_000_000, "2023-11-14T22:13:20.000Z"),
        (1_796_327_558_123, "2026-12-03T19:52:38.123Z"),
        (951_782_400_999, "2000-02-29T00:00:00.999Z"),
        (4_102_444_799_001, "2099-12-31T23:59:59.001Z"),
    ])
    func textForm(ms: Int64, text: String) throws {
        let t = Timestamp(milliseconds: ms)
        #expect(t.text == text)
        #expect(t.description == text)
        #expect(Timestamp(text: text) == t)
    }

    @Test func parseWithoutMilliseconds() {
        #expect(Timestamp(text: "2026-12-03T19:52:38Z")?.milliseconds == 1_796_327_558_000)
    }

    @Test func nowRoundTripsThroughText() throws {
        let now = Timestamp.now()
        #expect(abs(now.date.timeIntervalSinceNow) < 5)
        #expect(Timestamp(text: now.text) == now)
    }

    @Test func dateConversion() {
        #expect(Timestamp(milliseconds: 1_500).date == Date(timeIntervalSince1970: 1.5))
    }

    @Test func ordering() {
        let a = Timestamp(milliseconds: 1), b = Timestamp(milliseconds: 2)
        #expect(a < b)
        #expect(!(b < a))
        #expect([b, a].sorted() == [a, b])
    }

    @Test(arguments: [
        "", "2026-12-03", "2026-12-03T19:52:38", "2026-12-03T19:52:38.123", "2026-12-03T19:52:38.123+07:00",
        "2026-12-03T19:52:38+00:00", "2026-12-03 19:52:38Z", "2026-12-03t19:52:38Z", "2026-12-03T19:52:38z",
        "2026-13-03T19:52:38Z", "2026-00-03T19:52:38Z", "2026-12-00T19:52:38Z", "2026-12-32T19:52:38Z",
        "2026-12-03T24:00:00Z", "2026-12-03T19:60:38Z", "2026-12-03T19:52:60Z", "2026-12-03T19:52:38.12Z", "2026-12-03T19:52:38.1234Z",
        "2026-12-03T19:52:38,123Z", "+026-12-03T19:52:38Z", "2026-1-03T19:52:38.123Z", "２026-12-03T19:52:38Z",
    ])
    func rejectsOtherForms(text: String) {
        #expect(Timestamp(text: text) == nil)
    }

    @Test(arguments: ["2026-02-30T00:00:00Z", "2026-02-31T00:00:00.000Z", "2026-04-31T12:00:00Z", "2025-02-29T00:00:00Z"])
    func rejectsDaysTheMonthDoesNotHave(text: String) {
        // "no offsets, no leniency": 30 February must not silently become 2 March.
        #expect(Timestamp(text: text) == nil)
    }

    // MARK: - CalendarDate

    @Test(arguments: ["2026-12-03", "2024-02-29", "2000-02-29", "2026-01-31", "2026-04-30", "0001-01-01", "9999-12-31"])
    func validDates(text: String) {
        #expect(CalendarDate.isValid(text))
    }

    @Test(arguments: ["", "2026-12-3", "2026-1-03", "26-12-03", "2026/12/03", "2026-12-03T00:00:00Z", "2026-13-01",
                      "2026-00-10", "2026-12-00", "2026-12-32", "2026-02-29", "1900-02-29", "2026-04-31", "2026-06-31",
                      "2026-+1-01", "2026-12--3", "abcd-ef-gh", " 2026-12-03"])
    func invalidDates(text: String) {
        #expect(!CalendarDate.isValid(text))
    }

    @Test func todayIsAValidDate() {
        #expect(CalendarDate.isValid(CalendarDate.today()))
    }
}
