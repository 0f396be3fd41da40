/// *Sifat surat*: how restricted a letter is.
public enum Classification: String, CaseIterable, Codable, Sendable {
    case biasa
    case terbatas
    case rahasia
    case sangatRahasia = "sangat-rahasia"

    public static func parse(_ text: String, field: String = "classification") throws -> Classification {
        guard let value = Classification(rawValue: text) else {
            throw ValidationError(field: field, reason: "'\(text)' is not one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}

/// *Derajat kecepatan*: how fast a letter must be handled.
public enum Urgency: String, CaseIterable, Codable, Sendable {
    case biasa
    case segera
    case sangatSegera = "sangat-segera"

    public static func parse(_ text: String, field: String = "urgency") throws -> Urgency {
        guard let value = Urgency(rawValue: text) else {
            throw ValidationError(field: field, reason: "'\(text)' is not one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}
