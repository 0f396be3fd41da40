import Foundation

/// Renders a `BrokerStatsSnapshot` as the lines of `bus-cli watch` (and of `bus-cli stats`):
/// a header with the broker, uptime, nodes, totals, rates and latency, then one row per agency
/// with problems first (`BrokerStatsSnapshot.agenciesByProblem`), then recent notable events.
/// Pure: no terminal I/O; the caller decides width, height and colour.
public enum WatchScreen {
    public struct Layout: Sendable {
        /// Characters per line; longer lines are cut. nil: no limit.
        public var width: Int?
        /// Lines on screen; agencies that do not fit are summarised in one line. nil: no limit.
        public var height: Int?
        /// ANSI colour (only on a TTY, never with NO_COLOR: the caller decides).
        public var colour: Bool
        public init(width: Int? = nil, height: Int? = nil, colour: Bool = false) {
            self.width = width; self.height = height; self.colour = colour
        }
    }

    static let columns: [(title: String, width: Int, right: Bool)] = [
        ("CONNECTED", 10, false), ("PEER", 21, false), ("QUEUED", 7, true), ("OLDEST", 8, true),
        ("INFLIGHT", 8, true), ("ACCEPTED", 9, true), ("DELIVERED", 9, true), ("REFUSED", 10, true),
    ]

    /// The whole screen. `status` is a line under the header (e.g. "broker not answering").
    public static func render(_ s: BrokerStatsSnapshot?, events: [BrokerEvent] = [], status: String? = nil,
                              layout: Layout = Layout(), footer: String? = nil) -> [String] {
        var lines: [String] = []
        func add(_ text: String, _ style: String? = nil) {
            var t = text
            if let w = layout.width, t.count > w { t = String(t.prefix(w)) }
            if layout.colour, let style { lines.append("\u{1B}[\(style)m\(t)\u{1B}[0m") } else { lines.append(t) }
        }
        guard let s else {
            add("AgencyBus watch: waiting for the broker's first snapshot...", "1")
            if let status { add(status, "33") }
            return lines
        }
        let connectable = s.agencies.count
        let oldest = s.agencies.compactMap(\.oldestAgeSeconds).max()
        add("AgencyBus broker \(s.broker) at \(s.endpoint)  up \(duration(s.uptimeSeconds))  \(s.at)", "1")
        add("nodes \(s.connectedNodes)/\(connectable) connected  queued \(s.totals.queued)"
            + (oldest.map { " (oldest \(duration($0)))" } ?? "") + "  in flight \(s.totals.inFlight)"
            + "  operators \(s.operators.watching)" + (s.operators.dropped > 0 ? " (\(s.operators.dropped) dropped)" : ""))
        add("accepted \(s.totals.accepted) (\(rate(s.rates.acceptedPerSecond)))  delivered \(s.totals.delivered) (\(rate(s.rates.deliveredPerSecond)))"
            + "  rejected \(s.totals.rejected)  refused \(s.totals.refused) (\(rate(s.rates.refusedPerSecond)))",
            s.rates.refusedPerSecond > 0 ? "33" : nil)
        let l = s.latency
        let latency = l.samples == 0 ? "latency -  (no deliveries in the last \(duration(l.windowSeconds)))"
            : "latency p50 \(ms(l.p50Ms)) p95 \(ms(l.p95Ms)) p99 \(ms(l.p99Ms))  (last \(duration(l.windowSeconds)), \(l.samples) deliveries)"
        add(latency + "  in \(bytes(s.totals.bytesIn))  out \(bytes(s.totals.bytesOut))  store \(bytes(s.storeBytes))")
        if !s.refusedByReason.isEmpty {
            add("refused by reason: " + s.refusedByReason.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if let status { add(status, "33;1") }
        add("")

        let nameWidth = min(32, max(6, s.agencies.map(\.id.count).max() ?? 6))
        add(row("AGENCY", nameWidth, columns.map(\.title)), "7")
        let sorted = s.agenciesByProblem
        let eventLines = events.isEmpty ? 0 : min(events.count, 5) + 2
        let reserved = lines.count + (footer == nil ? 0 : 1) + eventLines
        var room = layout.height.map { max(1, $0 - reserved) } ?? sorted.count
        if room < sorted.count { room = max(0, room - 1) }  // keep a line for "… more"
        for a in sorted.prefix(room) {
            let connected = a.connected ? (a.since.flatMap { Timestamp(text: $0) }.map {
                duration(Double(max(0, (Timestamp(text: s.at)?.milliseconds ?? 0) - $0.milliseconds)) / 1000)
            } ?? "yes") : (a.queued > 0 ? "DOWN" : "-")
            let refused = a.refusedLastMinute > 0 ? "\(a.refused) +\(a.refusedLastMinute)/m" : "\(a.refused)"
            let cells = [connected, a.peer ?? "-", "\(a.queued)", a.oldestAgeSeconds.map(duration) ?? "-", "\(a.inFlight)",
                         "\(a.accepted)", "\(a.delivered)", refused]
            let style: String?
            switch a.problemTier {
            case 0: style = "31;1"
            case 1: style = (a.oldestAgeSeconds ?? 0) >= 300 ? "31" : "33"
            case 2: style = "35"
            default: style = a.connected ? "32" : "2"
            }
            add(row(a.id, nameWidth, cells), style)
        }
        if sorted.count > room {
            let rest = sorted.dropFirst(room)
            let healthy = rest.filter { $0.problemTier == 3 }.count
            add("... \(rest.count) more agencies (\(healthy) without problems); enlarge the window to see them", "2")
        }
        if eventLines > 0 {
            add("")
            add("RECENT", "7")
            for e in events.suffix(5) { add(eventLine(e)) }
        }
        if let footer { add(footer, "2") }
        return lines
    }

    static func row(_ name: String, _ nameWidth: Int, _ cells: [String]) -> String {
        var out = pad(name, nameWidth, right: false)
        for (cell, column) in zip(cells, columns) { out += "  " + pad(cell, column.width, right: column.right) }
        return out.trimmingTrailingSpaces
    }

    static func pad(_ text: String, _ width: Int, right: Bool) -> String {
        let t = text.count > width ? String(text.prefix(max(1, width - 1))) + "~" : text
        let fill = String(repeating: " ", count: max(0, width - t.count))
        return right ? fill + t : t + fill
    }

    /// One event as a line: time, kind, message kind and id, who, details. Content (subject)
    /// only when the broker sent it (the operator is granted content).
    public static func eventLine(_ e: BrokerEvent) -> String {
        var parts = [e.ts, e.kind.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)]
        if let k = e.messageKind { parts.append(k.padding(toLength: 11, withPad: " ", startingAt: 0)) }
        if let id = e.id { parts.append(id) }
        switch e.kind {
        case .accepted, .delivered, .rejected:
            parts.append("\(e.from ?? "?") -> \((e.to ?? []).joined(separator: ","))")
        case .refused:
            parts.append("agency=\(e.agency ?? "-")" + (e.operator.map { " operator=\($0)" } ?? ""))
        case .connected, .disconnected:
            parts.append(e.agency ?? "?")
        case .operatorDropped:
            parts.append("operator=\(e.operator ?? "?")")
        }
        if let b = e.bytes { parts.append(bytes(b)) }
        if let l = e.latencyMs { parts.append("latency \(ms(l))") }
        if let p = e.peer { parts.append("peer \(p)") }
        if let c = e.code { parts.append("code=\(c)") }
        if let r = e.reason { parts.append("\"\(r)\"") }
        if let subject = e.subject { parts.append("subject \"\(subject)\"") }
        return parts.joined(separator: "  ")
    }

    // MARK: - Units

    /// 45s, 4m05s, 3h12m, 2d04h.
    public static func duration(_ seconds: Double) -> String {
        let t = Int(max(0, seconds).rounded(.down))
        if t < 60 { return "\(t)s" }
        if t < 3600 { return String(format: "%dm%02ds", t / 60, t % 60) }
        if t < 86_400 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        return String(format: "%dd%02dh", t / 86_400, (t % 86_400) / 3600)
    }

    /// 912 B, 1.2 KiB, 3.4 MiB, 1.1 GiB.
    public static func bytes(_ n: Int64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        if n < 1024 { return "\(n) B" }
        var v = Double(n) / 1024
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return String(format: "%.1f", v) + " " + units[i]
    }

    /// 12ms, 1.2s, 3m10s; "-" when unknown.
    public static func ms(_ value: Int64?) -> String {
        guard let value else { return "-" }
        if value < 1000 { return "\(value)ms" }
        if value < 60_000 { return String(format: "%.1fs", Double(value) / 1000) }
        return duration(Double(value) / 1000)
    }

    static func rate(_ perSecond: Double) -> String {
        perSecond == 0 ? "0/s" : perSecond < 10 ? String(format: "%.1f/s", perSecond) : String(format: "%.0f/s", perSecond)
    }
}

private extension String {
    var trimmingTrailingSpaces: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
