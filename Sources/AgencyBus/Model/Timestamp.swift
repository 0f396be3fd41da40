import Foundation

/// A UTC instant with millisecond precision; text form RFC 3339 `2026-12-03T19:52:38.123Z`.
public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Milliseconds since the Unix epoch.
    public let milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }

    public var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    public var text: String {
        var t = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        // Digits by hand: String(format:) costs microseconds on Linux, and every trace event,
        // log line and JSON object carries a timestamp.
        var out = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, at index: Int, digits: Int) {
            var v = value
            for k in stride(from: index + digits - 1, through: index, by: -1) { out[k] = UInt8(48 + v % 10); v /= 10 }
        }
        let ms = Int(((milliseconds % 1000) + 1000) % 1000)
        put(Int(parts.tm_year) + 1900, at: 0, digits: 4); out[4] = 45
        put(Int(parts.tm_mon) + 1, at: 5, digits: 2); out[7] = 45
        put(Int(parts.tm_mday), at: 8, digits: 2); out[10] = 84
        put(Int(parts.tm_hour), at: 11, digits: 2); out[13] = 58
        put(Int(parts.tm_min), at: 14, digits: 2); out[16] = 58
        put(Int(parts.tm_sec), at: 17, digits: 2); out[19] = 46
        put(ms, at: 20, digits: 3); out[23] = 90
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { text }

    /// Parses `YYYY-MM-DDTHH:MM:SS(.fff)Z`; nil for anything else (no offsets, no leniency).
    public init?(text: String) {
        let b = Array(text.utf8)
        guard b.count == 20 || b.count == 24, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58,
              b.last == 90 else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r { guard (48...57).contains(b[i]) else { return nil }; v = v * 10 + Int(b[i] - 48) }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10),
              let h = num(11..<13), let mi = num(14..<16), let s = num(17..<19),
              CalendarDate.isValid(String(decoding: b[0..<10], as: UTF8.self)), h < 24, mi < 60, s < 60 else { return nil }
        _ = (y, mo, d)
        var ms = 0
        if b.count == 24 {
            guard b[19] == 46, let f = num(20..<23) else { return nil }
            ms = f
        }
        var parts = tm()
        parts.tm_year = Int32(y - 1900); parts.tm_mon = Int32(mo - 1); parts.tm_mday = Int32(d)
        parts.tm_hour = Int32(h); parts.tm_min = Int32(mi); parts.tm_sec = Int32(s)
        let secs = timegm(&parts)
        milliseconds = Int64(secs) * 1000 + Int64(ms)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }
}

/// A calendar date `YYYY-MM-DD` (the letter's date, a due date), validated strictly.
public enum CalendarDate {
    public static func isValid(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == 45, b[7] == 45 else { return false }
        for i in [0, 1, 2, 3, 5, 6, 8, 9] where !(48...57).contains(b[i]) { return false }
        guard let y = Int(text.prefix(4)), let m = Int(text.dropFirst(5).prefix(2)), let d = Int(text.suffix(2)) else { return false }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return (1...12).contains(m) && d >= 1 && d <= days[m - 1]
    }

    /// Today's date in the machine's local time zone. A node's dates (letter dates, due
    /// dates, what is overdue) use `NodeStore.calendar.today()`, the agency's zone, instead.
    public static func today() -> String {
        var t = time(nil)
        var parts = tm()
        localtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
    }
}
