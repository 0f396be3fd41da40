import Foundation

/// One line of the table: a figure (median of runs, with the spread), its target, and its
/// ratio to the machine limit that bounds it.
struct Row {
    var scenario: String
    var metric: String
    var figure: Figure
    var unit: String
    var runs: String
    var target: String = "—"
    /// nil: no target for this line.
    var met: Bool?
    var limit: String = "—"
    var ratio: Double?

    var value: String {
        let m = figure.median
        if figure.values.count > 1 { return "\(fmt(m)) \(unit) (\(fmt(figure.min))–\(fmt(figure.max)))" }
        return "\(fmt(m)) \(unit)"
    }
    var verdict: String {
        switch met {
        case .some(true): return "met"
        case .some(false): return "**MISSED**"
        case .none: return ""
        }
    }
}

enum Report {
    static func table(_ rows: [Row]) -> String {
        var out = "| Scenario | Figure | Median (min–max) | Runs | Target | Met | Bounding limit | Ratio |\n"
        out += "|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            let ratio = r.ratio.map { fmt($0, 2) } ?? "—"
            out += "| \(r.scenario) | \(r.metric) | \(r.value) | \(r.runs) | \(r.target) | \(r.verdict) | \(r.limit) | \(ratio) |\n"
        }
        return out
    }
}
