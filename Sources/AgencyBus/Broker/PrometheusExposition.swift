import Foundation

/// Renders a `BrokerStatsSnapshot` as Prometheus text exposition format 0.0.4 (what
/// `GET /metrics` answers). Pure: the same snapshot always gives the same text.
///
/// Every family has `# HELP` and `# TYPE` lines; label values are escaped (`\\`, `\"`, `\n`);
/// counters end in `_total`; times are in seconds and sizes in bytes.
public enum PrometheusExposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The metric families this renderer writes, for docs and dashboards.
    public static let familyNames = [
        "agencybus_up", "agencybus_start_time_seconds", "agencybus_uptime_seconds",
        "agencybus_messages_accepted_total", "agencybus_messages_delivered_total", "agencybus_messages_rejected_total",
        "agencybus_refused_total", "agencybus_agency_refused_total",
        "agencybus_queue_depth", "agencybus_oldest_undelivered_seconds",
        "agencybus_connected_nodes", "agencybus_node_connected",
        "agencybus_deliveries_in_flight", "agencybus_received_bytes_total", "agencybus_sent_bytes_total",
        "agencybus_store_bytes", "agencybus_operator_streams", "agencybus_operator_streams_dropped_total",
        "agencybus_delivery_latency_seconds", "agencybus_delivery_latency_window_seconds",
    ]

    public static func render(_ s: BrokerStatsSnapshot) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
            out += name
            if !labels.isEmpty {
                out += "{" + labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
            }
            out += " " + number(value) + "\n"
        }
        let broker = [("broker", s.broker)]

        family("agencybus_up", "gauge", "1 while the broker serves.")
        sample("agencybus_up", broker, 1)
        family("agencybus_start_time_seconds", "gauge", "When the broker started, seconds since the Unix epoch.")
        sample("agencybus_start_time_seconds", [], Double(Timestamp(text: s.startedAt)?.milliseconds ?? 0) / 1000)
        family("agencybus_uptime_seconds", "gauge", "Seconds since the broker started.")
        sample("agencybus_uptime_seconds", [], s.uptimeSeconds)

        family("agencybus_messages_accepted_total", "counter",
               "Submissions (letters, dispositions, status updates) committed durably, by sending agency.")
        for a in s.agencies where a.accepted > 0 { sample("agencybus_messages_accepted_total", [("agency", a.id)], Double(a.accepted)) }
        family("agencybus_messages_delivered_total", "counter",
               "Deliveries confirmed by the recipient's signed 'stored' receipt, by recipient agency.")
        for a in s.agencies where a.delivered > 0 { sample("agencybus_messages_delivered_total", [("agency", a.id)], Double(a.delivered)) }
        family("agencybus_messages_rejected_total", "counter",
               "Deliveries the recipient rejected (bad signature, conflicting id), by recipient agency.")
        for a in s.agencies where a.rejected > 0 { sample("agencybus_messages_rejected_total", [("agency", a.id)], Double(a.rejected)) }
        family("agencybus_refused_total", "counter", "REFUSED answers sent, by refusal code.")
        for code in RefusalCode.allCases {
            sample("agencybus_refused_total", [("reason", code.rawValue)], Double(s.refusedByReason[code.rawValue] ?? 0))
        }
        for (reason, n) in s.refusedByReason.sorted(by: { $0.key < $1.key }) where RefusalCode(rawValue: reason) == nil {
            sample("agencybus_refused_total", [("reason", reason)], Double(n))
        }
        family("agencybus_agency_refused_total", "counter", "REFUSED answers sent to an agency's connections, by agency.")
        for a in s.agencies where a.refused > 0 { sample("agencybus_agency_refused_total", [("agency", a.id)], Double(a.refused)) }

        family("agencybus_queue_depth", "gauge", "Accepted messages not yet delivered (no receipt yet), by recipient agency.")
        for a in s.agencies { sample("agencybus_queue_depth", [("agency", a.id)], Double(a.queued)) }
        family("agencybus_oldest_undelivered_seconds", "gauge",
               "Age of the oldest undelivered message, by recipient agency (0 when nothing waits).")
        for a in s.agencies { sample("agencybus_oldest_undelivered_seconds", [("agency", a.id)], a.oldestAgeSeconds ?? 0) }

        family("agencybus_connected_nodes", "gauge", "Agency nodes with a live delivery session.")
        sample("agencybus_connected_nodes", [], Double(s.connectedNodes))
        family("agencybus_node_connected", "gauge", "1 when the agency's node has a live delivery session, else 0.")
        for a in s.agencies { sample("agencybus_node_connected", [("agency", a.id)], a.connected ? 1 : 0) }
        family("agencybus_deliveries_in_flight", "gauge", "Deliveries sent to nodes and not yet receipted.")
        sample("agencybus_deliveries_in_flight", [], Double(s.totals.inFlight))

        family("agencybus_received_bytes_total", "counter", "Bytes of protocol messages received from nodes and operators.")
        sample("agencybus_received_bytes_total", [], Double(s.totals.bytesIn))
        family("agencybus_sent_bytes_total", "counter", "Bytes of protocol messages sent to nodes and operators.")
        sample("agencybus_sent_bytes_total", [], Double(s.totals.bytesOut))
        family("agencybus_store_bytes", "gauge", "Size of the broker's queue database (page_count x page_size).")
        sample("agencybus_store_bytes", [], Double(s.storeBytes))
        family("agencybus_operator_streams", "gauge", "Operator streams (WATCH) open.")
        sample("agencybus_operator_streams", [], Double(s.operators.watching))
        family("agencybus_operator_streams_dropped_total", "counter", "Operator streams dropped because they could not keep up.")
        sample("agencybus_operator_streams_dropped_total", [], Double(s.operators.dropped))

        family("agencybus_delivery_latency_seconds", "histogram",
               "Time from the broker's acceptance to the recipient's signed receipt.")
        for b in s.latency.buckets {
            sample("agencybus_delivery_latency_seconds_bucket", [("le", b.le.map(number) ?? "+Inf")], Double(b.count))
        }
        sample("agencybus_delivery_latency_seconds_sum", [], s.latency.sumSeconds)
        sample("agencybus_delivery_latency_seconds_count", [], Double(s.latency.count))
        family("agencybus_delivery_latency_window_seconds", "gauge",
               "Accept-to-deliver latency percentiles over the last \(Int(s.latency.windowSeconds)) s (absent without deliveries).")
        for (q, v) in [("0.5", s.latency.p50Ms), ("0.95", s.latency.p95Ms), ("0.99", s.latency.p99Ms)] {
            if let v { sample("agencybus_delivery_latency_window_seconds", [("quantile", q)], Double(v) / 1000) }
        }
        return out
    }

    /// Label value escaping of the text format: backslash, double quote and line feed.
    public static func escapeLabel(_ v: String) -> String {
        var out = ""
        for c in v.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// HELP text escaping: backslash and line feed.
    public static func escapeHelp(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Integers without a fraction, others in shortest round-trip form; +Inf/-Inf/NaN spelled out.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
