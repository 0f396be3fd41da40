/// A registry number (*nomor agenda*): the node's running number of a letter received (`IN`)
/// or sent (`OUT`) in one calendar year of the agency's time zone.
///
/// Text form: the number zero-padded to four digits (wider past 9999), the direction, the
/// year: `0412/IN/2026`, `0007/OUT/2026`, `12034/IN/2026`.
public struct AgendaNumber: Hashable, Sendable, CustomStringConvertible {
    /// `in` or `out`, as in the store's `direction` column.
    public let direction: String
    public let year: Int
    public let number: Int

    public init(direction: String, year: Int, number: Int) {
        self.direction = direction; self.year = year; self.number = number
    }

    public var text: String {
        let digits = String(number)
        let padded = digits.count >= 4 ? digits : String(repeating: "0", count: 4 - digits.count) + digits
        return "\(padded)/\(direction.uppercased())/\(year)"
    }

    public var description: String { text }

    /// Parses `0412/IN/2026`; nil for anything else.
    public init?(text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count >= 4, let n = Int(parts[0]), n > 0, parts[0].allSatisfy(\.isASCII),
              parts[1] == "IN" || parts[1] == "OUT", parts[2].count == 4, let y = Int(parts[2]) else { return nil }
        self.init(direction: parts[1].lowercased(), year: y, number: n)
    }
}
