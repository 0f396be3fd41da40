import Foundation

/// The node's retention schedule (after the Indonesian *Jadwal Retensi Arsip*): how many
/// years a letter stays in the live inbox after it was closed, by classification. Kept in
/// the node directory as `retention.json`:
///
/// ```json
/// {"years": {"biasa": 2, "terbatas": 5, "rahasia": 10, "sangat-rahasia": 25}}
/// ```
///
/// A classification missing from the file keeps its default (the values above). `0` means
/// "as soon as it is closed and archived". Retention only decides when `archive prune` may
/// take a letter out of the live inbox; the archive file itself is kept by the records office
/// under its own schedule.
public struct Retention: Codable, Sendable, Equatable {
    public static let defaults: [String: Int] = ["biasa": 2, "terbatas": 5, "rahasia": 10, "sangat-rahasia": 25]
    public static let maxYears = 100

    public var years: [String: Int]

    public init(years: [String: Int] = Retention.defaults) { self.years = years }

    public static func path(in directory: String) -> String { directory + "/retention.json" }

    /// Years to keep letters of `classification` (the longest of all for an unknown one, so
    /// nothing leaves early by mistake).
    public func years(for classification: String) -> Int {
        years[classification] ?? Self.defaults[classification] ?? Swift.max(years.values.max() ?? 0, Self.defaults.values.max() ?? 0)
    }

    /// The node's setting, or the defaults when it has no `retention.json`.
    public static func load(directory: String) throws -> (retention: Retention, fromFile: Bool) {
        let path = Self.path(in: directory)
        guard let data = FileManager.default.contents(atPath: path) else { return (Retention(), false) }
        let decoded: Retention
        do { decoded = try JSONDecoder().decode(Retention.self, from: data) } catch {
            throw NodeError.data("\(path) is damaged (\(error)); fix it or set it again with: bus-cli archive retention --node \(directory) --set biasa=2,…")
        }
        var merged = defaults
        for (k, v) in decoded.years { merged[k] = v }
        let r = Retention(years: merged)
        try r.validate(source: path)
        return (r, true)
    }

    public func validate(source: String) throws {
        for (k, v) in years {
            guard Classification(rawValue: k) != nil else {
                throw NodeError.data("\(source): '\(k)' is not a classification (\(Classification.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard v >= 0 && v <= Self.maxYears else { throw NodeError.data("\(source): \(k)=\(v): years must be 0–\(Self.maxYears)") }
        }
    }

    /// Applies `biasa=2,terbatas=5`; the error names the part that is wrong.
    public func setting(_ text: String) throws -> Retention {
        var r = self
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2 else { throw NodeError.data("--set: '\(part)' is not CLASSIFICATION=YEARS (e.g. biasa=2)") }
            guard Classification(rawValue: kv[0]) != nil else {
                throw NodeError.data("--set: '\(kv[0])' is not a classification (\(Classification.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let years = Int(kv[1]), years >= 0, years <= Self.maxYears else {
                throw NodeError.data("--set: \(kv[0])=\(kv[1]): years must be a whole number from 0 to \(Self.maxYears)")
            }
            r.years[kv[0]] = years
        }
        return r
    }

    /// Writes `retention.json` atomically (a crash leaves the old or the new file).
    public func write(directory: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try e.encode(self).write(to: URL(fileURLWithPath: Self.path(in: directory)), options: .atomic)
    }
}
