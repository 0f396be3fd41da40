import Foundation

extension TraceReport {
    /// Sends TRACE for `id` over `client` and waits for the answer (nodes and operators alike).
    /// "not found" is a data error (65); other refusals, and silence, are NodeErrors too.
    static func request(id: String, over client: BrokerClient, timeout: Double, broker: String) throws -> TraceReport {
        try client.send(.trace(id: id))
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let command = try client.receive(timeoutMs: max(1, min(500, Int(deadline.timeIntervalSinceNow * 1000)))) else { continue }
            switch command {
            case .traced(let json):
                do { return try JSONDecoder().decode(TraceReport.self, from: json) } catch {
                    throw NodeError.data("the broker's trace answer is not readable: \(error)")
                }
            case .refused(let rid, let code, let reason) where rid == id || rid == "-":
                if code == .notFound { throw NodeError.data("not found: \(reason)") }
                throw NodeError.refused(ProtocolError(code, reason))
            default:
                continue
            }
        }
        throw NodeError.unavailable("\(broker) did not answer the trace within \(Int(timeout)) s")
    }
}
