import AgencyBus
import Foundation

let watchSpec = CommandSpec(
    tool: "bus-cli", name: "watch",
    abstract: "A live, self-refreshing view of the bus, like top (operators only).",
    discussion: """
    The header shows the broker, uptime, connected nodes, totals and rates, and the
    accept-to-deliver latency (p50/p95/p99). Then one row per agency, problems first:
    disconnected with mail queued, then by age of the oldest undelivered message, then refusal
    bursts. Recent notable events (refusals, disconnections) at the bottom. Refreshes every
    second. Press q (or Ctrl-C) to quit; the terminal is restored on every exit.
    Colour only on a TTY and never with NO_COLOR; when stdout is not a terminal it prints one
    plain block per second instead.
    """,
    options: [operatorOption, brokerOption, verboseOption] + logOptions)

let watchVerb = Verb(watchSpec) { args in
    let op = try openOperator(args, spec: watchSpec)
    StopSignal.install()
    let stream = try op.watch(broker: args.value("broker"))
    let screen = TerminalScreen()
    defer { screen?.restore() }
    let colour = screen != nil && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    var snapshot: BrokerStatsSnapshot?
    var recent: [BrokerEvent] = []
    var status: String? = "connecting to broker '\(stream.broker.id)' at \(stream.broker.endpoint)..."
    var drawnSize = (columns: 0, rows: 0)
    var dirty = true
    quit: while !StopSignal.requested {
        var fresh = false
        for update in try stream.next(timeoutMs: 100) {
            switch update {
            case .stats(let s):
                snapshot = s
                if status?.hasPrefix("connecting") == true { status = nil }
                fresh = true
            case .event(let e):
                // Refusals, rejections and sessions ending are what ops look for in the feed.
                if [.refused, .rejected, .disconnected, .connected, .operatorDropped].contains(e.kind) {
                    recent.append(e)
                    if recent.count > 50 { recent.removeFirst(recent.count - 50) }
                }
            case .lost(let why):
                status = "! " + why
                fresh = true
            case .restored:
                status = nil
                fresh = true
            }
        }
        if let screen {
            for key in screen.keys() where key == UInt8(ascii: "q") || key == UInt8(ascii: "Q") || key == 3 || key == 4 {
                break quit
            }
            let size = screen.size
            if size != drawnSize { drawnSize = size; dirty = true }
            if fresh || dirty {
                screen.draw(WatchScreen.render(snapshot, events: recent, status: status,
                                               layout: .init(width: size.columns, height: size.rows, colour: colour),
                                               footer: "q quit   refreshed \(Timestamp.now().text)"))
                dirty = false
            }
        } else if fresh {
            // Not a terminal: one plain block per snapshot, like `top -b`.
            Output.line(WatchScreen.render(snapshot, status: status).joined(separator: "\n") + "\n")
        }
    }
    return ExitCode.ok
}
