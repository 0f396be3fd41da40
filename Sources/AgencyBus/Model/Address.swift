/// An address: an agency (`pemkot-semarang`) or a unit inside it (`pemkot-semarang/diskominfo`).
public struct Address: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let agency: String
    public let unit: String?

    public init(agency: String, unit: String? = nil) {
        self.agency = agency
        self.unit = unit
    }

    /// Parses `agency[/unit]`; both parts are slugs (see `Slug`).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 1 || parts.count == 2 else {
            throw ValidationError(field: "address", reason: "'\(text)' is not AGENCY or AGENCY/UNIT")
        }
        guard Slug.isValid(parts[0]) else {
            throw ValidationError(field: "address", reason: "'\(text)': agency id '\(parts[0])' is not a slug (lowercase letters, digits and '-', 1–64 characters)")
        }
        if parts.count == 2 {
            guard Slug.isValid(parts[1]) else {
                throw ValidationError(field: "address", reason: "'\(text)': unit id '\(parts[1])' is not a slug (lowercase letters, digits and '-', 1–64 characters)")
            }
        }
        self.init(agency: parts[0], unit: parts.count == 2 ? parts[1] : nil)
    }

    public var description: String { unit.map { "\(agency)/\($0)" } ?? agency }
    public static func < (a: Address, b: Address) -> Bool { a.description < b.description }
}

/// Ids of agencies, units, brokers and operators: lowercase ASCII letters, digits and
/// single inner hyphens, 1–64 characters (`kemenpanrb`, `pemkot-semarang`).
public enum Slug {
    public static func isValid(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard !b.isEmpty, b.count <= 64, b.first != 45, b.last != 45 else { return false }
        var previousHyphen = false
        for c in b {
            let ok = (97...122).contains(c) || (48...57).contains(c) || c == 45
            guard ok, !(c == 45 && previousHyphen) else { return false }
            previousHyphen = c == 45
        }
        return true
    }
}

/// A refusal of input data, naming the field and the rule it broke.
public struct ValidationError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }
}
