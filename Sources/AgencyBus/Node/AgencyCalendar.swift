import Foundation

/// Days, years and clock times as the agency's registry sees them: in the agency's own time
/// zone (the topology's `timeZone`, an IANA name such as `Asia/Jakarta` for WIB,
/// `Asia/Makassar` for WITA, `Asia/Jayapura` for WIT), else the machine's local zone.
///
/// A letter stored at 2026-12-31T17:30Z is on 2027-01-01 in Jakarta (UTC+7), so it gets an
/// agenda number of 2027 and appears in the agenda of 1 January there.
///
/// `now` is the clock the registry stamps agenda numbers with; tests pass a fixed one.
public struct AgencyCalendar: Sendable {
    public let timeZone: TimeZone
    public let now: @Sendable () -> Timestamp
    private let calendar: Calendar

    public init(timeZone: TimeZone, now: @escaping @Sendable () -> Timestamp = { Timestamp.now() }) {
        self.timeZone = timeZone
        self.now = now
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        calendar = c
    }

    /// The zone named in the topology, or the machine's zone when the name is absent. An
    /// unknown name cannot occur: `Topology.load` refuses it.
    public init(identifier: String?, now: @escaping @Sendable () -> Timestamp = { Timestamp.now() }) {
        self.init(timeZone: identifier.flatMap(TimeZone.init(identifier:)) ?? TimeZone.current, now: now)
    }

    /// The machine's local zone and clock.
    public static var local: AgencyCalendar { AgencyCalendar(timeZone: TimeZone.current) }

    /// The zone's IANA name (`Asia/Jakarta`).
    public var zoneName: String { timeZone.identifier }

    private func parts(_ t: Timestamp) -> DateComponents {
        calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: t.date)
    }

    /// The calendar year of an instant in the agency's zone.
    public func year(of t: Timestamp) -> Int { parts(t).year ?? 1970 }

    /// `YYYY-MM-DD` of an instant in the agency's zone.
    public func day(of t: Timestamp) -> String {
        let p = parts(t)
        return String(format: "%04d-%02d-%02d", p.year ?? 1970, p.month ?? 1, p.day ?? 1)
    }

    /// `HH:MM` of an instant in the agency's zone.
    public func time(of t: Timestamp) -> String {
        let p = parts(t)
        return String(format: "%02d:%02d", p.hour ?? 0, p.minute ?? 0)
    }

    /// Today in the agency's zone.
    public func today() -> String { day(of: now()) }

    /// The instants of one day in the agency's zone: [start, end) in milliseconds since the
    /// epoch. A day is not always 24 hours long in zones with daylight saving; the calendar
    /// knows. Nil when `day` is not a valid `YYYY-MM-DD`.
    public func range(of day: String) -> (start: Int64, end: Int64)? {
        guard CalendarDate.isValid(day), let y = Int(day.prefix(4)), let m = Int(day.dropFirst(5).prefix(2)),
              let d = Int(day.suffix(2)) else { return nil }
        guard let start = calendar.date(from: DateComponents(year: y, month: m, day: d)),
              let end = calendar.date(byAdding: .day, value: 1, to: start) else { return nil }
        return (Int64((start.timeIntervalSince1970 * 1000).rounded()), Int64((end.timeIntervalSince1970 * 1000).rounded()))
    }

    /// The days from `from` through `to` (both `YYYY-MM-DD`, `from` ≤ `to`), in order.
    public func days(from: String, through to: String) -> [String] {
        var out: [String] = []
        var day = from
        while day <= to, let r = range(of: day) {
            out.append(day)
            // Noon of the next day is safely inside it, whatever the zone's transitions.
            day = self.day(of: Timestamp(milliseconds: r.end + 12 * 3_600_000))
        }
        return out
    }

    /// `date` plus `years` calendar years (29 February becomes 28 February in a common year).
    public func adding(years: Int, to date: String) -> String? {
        guard let r = range(of: date), let later = calendar.date(byAdding: .year, value: years, to: Date(timeIntervalSince1970: Double(r.start) / 1000)) else { return nil }
        return day(of: Timestamp(milliseconds: Int64((later.timeIntervalSince1970 * 1000).rounded())))
    }
}
