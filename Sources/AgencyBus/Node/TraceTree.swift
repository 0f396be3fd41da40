import Foundation

/// One line of a trace: an item (the letter, a disposition) or a hop of one (accepted,
/// delivered, stored, read, in-progress, done), with its latency from the hop before it.
public struct TraceNode: Sendable {
    public var id: String
    /// letter, disposition, or the hop's kind.
    public var what: String
    public var who: String
    public var signer: String
    public var at: Timestamp
    public var latencyMs: Int64?
    public var detail: String?
    /// For items: what is still open (not received, not read, not done), and overdue parts.
    public var open: [String] = []
    public var overdue: Bool = false
    public var highlight: Bool = false
    public var children: [TraceNode] = []

    public var isItem: Bool { what == "letter" || what == "disposition" }

    /// The tree as JSON-ready data (same shape at every level).
    public func json() -> [String: Any] {
        var o: [String: Any] = ["id": id, "what": what, "who": who, "signer": signer, "at": at.text,
                                "open": open, "overdue": overdue, "highlight": highlight,
                                "children": children.map { $0.json() }]
        if let latencyMs { o["latencyMs"] = latencyMs }
        if let detail { o["detail"] = detail }
        return o
    }
}

/// Builds the route tree of a letter from the broker's trace report. Pure: no I/O.
public enum TraceTree {
    /// `today` (YYYY-MM-DD) decides what is overdue.
    public static func build(_ report: TraceReport, today: String) -> TraceNode? {
        guard let letter = report.items.first(where: { $0.kind == "letter" }) else { return nil }
        return node(for: letter, report: report, index: Index(report), parentHop: nil, today: today)
    }

    /// Events by item and dispositions by parent, built once: a 200-item tree with a thousand
    /// events was a quadratic walk before (`make bench` S6).
    struct Index {
        var events: [String: [TraceEvent]] = [:]
        var dispositions: [String: [TraceReport.Item]] = [:]
        init(_ report: TraceReport) {
            for e in report.events { events[e.item, default: []].append(e) }
            for i in report.items where i.kind == "disposition" { if let p = i.parent { dispositions[p, default: []].append(i) } }
        }
    }

    static func node(for item: TraceReport.Item, report: TraceReport, index: Index, parentHop: Timestamp?, today: String) -> TraceNode {
        let events = index.events[item.id] ?? []
        let origin = events.first { $0.kind == "sent" || $0.kind == "disposed" }
        let itemTime = origin?.at ?? events.first?.at ?? Timestamp(milliseconds: 0)
        var detail: String
        if item.kind == "letter" {
            detail = (item.subject.map { "\"\($0)\"" } ?? "(subject hidden)") + " to \(item.to.joined(separator: ", "))"
        } else {
            detail = "→ \(item.to.joined(separator: ", ")) [\((item.instructions ?? []).joined(separator: ", "))]"
            if let due = item.due { detail += " due \(due)" }
            if let note = item.note, !note.isEmpty { detail += " \"\(note)\"" }
        }
        var n = TraceNode(id: item.id, what: item.kind, who: origin?.place ?? item.from, signer: origin?.signer ?? item.from,
                          at: itemTime, latencyMs: parentHop.map { itemTime.milliseconds - $0.milliseconds }, detail: detail)
        n.highlight = item.id == report.query

        // Hops of this item, each timed from the previous hop at the same agency
        // (delivered ← accepted, stored ← delivered, read ← stored, …).
        var children: [TraceNode] = []
        var accepted: Timestamp?
        var lastAt: [String: Timestamp] = [:]
        for e in events where e.kind != "sent" && e.kind != "disposed" {
            let agency = String(e.place.split(separator: "/").first ?? "")
            let previous: Timestamp
            if e.kind == "accepted" { previous = itemTime } else { previous = lastAt[agency] ?? accepted ?? itemTime }
            if e.kind == "accepted" { accepted = e.at } else { lastAt[agency] = e.at }
            children.append(TraceNode(id: item.id, what: e.kind, who: e.place, signer: e.signer, at: e.at,
                                      latencyMs: e.at.milliseconds - previous.milliseconds, detail: e.detail))
        }
        // Dispositions on this item, timed from the disposer's last hop on this item before it.
        for sub in index.dispositions[item.id] ?? [] {
            let disposer = sub.from
            let subTime = index.events[sub.id]?.first { $0.kind == "disposed" }?.at ?? itemTime
            let before = events.filter {
                $0.kind != "sent" && $0.kind != "disposed" && $0.at <= subTime
                    && ($0.place == disposer || $0.place.hasPrefix(disposer + "/"))
            }
            let hop = before.map(\.at).max() ?? accepted ?? itemTime
            children.append(node(for: sub, report: report, index: index, parentHop: hop, today: today))
        }
        n.children = children.sorted { $0.at < $1.at }

        // What is still open.
        if item.kind == "letter" {
            let agencies = uniqueAgencies(item.to)
            for a in agencies {
                let kinds = Set(events.filter { $0.place == a || $0.place.hasPrefix(a + "/") }.map(\.kind))
                if !kinds.contains("stored") { n.open.append("\(a): not received yet") }
                else if !kinds.contains("read") { n.open.append("\(a): not read") }
            }
        } else {
            for address in item.to {
                let agency = String(address.split(separator: "/").first ?? "")
                let mine = events.filter { $0.place == address || ($0.place == agency && ($0.kind == "stored" || $0.kind == "delivered")) }
                let kinds = Set(mine.map(\.kind))
                if kinds.contains("done") { continue }
                let state = kinds.contains("in-progress") ? "in progress" : kinds.contains("read") ? "read, not done"
                    : kinds.contains("stored") ? "not read" : "not received yet"
                var text = "\(address): \(state)"
                if let due = item.due, due < today {
                    text += " — OVERDUE (due \(due))"
                    n.overdue = true
                }
                n.open.append(text)
            }
        }
        return n
    }

    /// Human form: one line per node, box-drawing tree, open items marked `!`, the queried
    /// item marked `▶`; colour only when `colour` is true. `agenda`, when given, is the reading
    /// node's agenda number(s) of the letter, shown on the root line after the sender.
    public static func render(_ root: TraceNode, colour: Bool, agenda: String? = nil) -> String {
        var lines: [String] = []
        func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        func latency(_ ms: Int64?) -> String {
            guard let ms else { return "" }
            let sign = ms < 0 ? "-" : "+"
            let a = abs(ms)
            if a < 1000 { return "\(sign)\(a)ms" }
            if a < 60_000 { return "\(sign)\(String(format: "%.1f", Double(a) / 1000))s" }
            if a < 3_600_000 { return "\(sign)\(a / 60_000)m\((a % 60_000) / 1000)s" }
            if a < 86_400_000 { return "\(sign)\(a / 3_600_000)h\((a % 3_600_000) / 60_000)m" }
            return "\(sign)\(a / 86_400_000)d\((a % 86_400_000) / 3_600_000)h"
        }
        func line(_ n: TraceNode, isRoot: Bool = false) -> String {
            let mark = n.highlight ? "▶ " : ""
            if n.isItem {
                let number = isRoot ? agenda.map { "\($0)  " } ?? "" : ""
                let head = "\(mark)\(n.what.uppercased()) \(n.id)  \(n.who)  \(number)\(n.detail ?? "")"
                let text = "\(head)  \(n.at.text)  \(latency(n.latencyMs))".trimmingCharacters(in: .whitespaces)
                return n.highlight ? paint(text, "1;36") : paint(text, "1")
            }
            func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
            var text = "\(pad(n.what, 11)) \(pad(n.who, 28)) \(n.at.text)  \(latency(n.latencyMs))"
            if let d = n.detail, !d.isEmpty { text += "  \"\(d)\"" }
            return text
        }
        func walk(_ n: TraceNode, prefix: String, isLast: Bool, isRoot: Bool) {
            lines.append(isRoot ? line(n, isRoot: true) : prefix + (isLast ? "└─ " : "├─ ") + line(n))
            let childPrefix = isRoot ? "" : prefix + (isLast ? "   " : "│  ")
            let openLines = n.open.map { "! " + $0 }
            let total = n.children.count + openLines.count
            for (i, c) in n.children.enumerated() { walk(c, prefix: childPrefix, isLast: i == total - 1, isRoot: false) }
            for (j, o) in openLines.enumerated() {
                let last = n.children.count + j == total - 1
                let text = o.contains("OVERDUE") ? paint(o, "1;31") : paint(o, "33")
                lines.append(childPrefix + (last ? "└─ " : "├─ ") + text)
            }
        }
        walk(root, prefix: "", isLast: true, isRoot: true)
        return lines.joined(separator: "\n")
    }
}
