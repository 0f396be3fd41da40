import AgencyBus
import Foundation

let statsSpec = CommandSpec(
    tool: "bus-cli", name: "stats",
    abstract: "Print one snapshot of the broker's live figures (operators only).",
    discussion: """
    Connected nodes (since when, from where), messages accepted, delivered and refused per
    agency and per reason, bytes in and out, what is queued for whom and for how long, what is
    in flight, the store size and the accept-to-deliver latency (p50/p95/p99 over the last
    5 minutes). Agencies with problems come first. With --json: the snapshot as one JSON object.
    Exit 77 when the broker refuses (the key is not an operator's), 69 when it does not answer.
    """,
    options: [operatorOption, brokerOption,
              OptionSpec("timeout", value: "SECONDS", help: "How long to wait for the broker (default 10)"),
              jsonOption, verboseOption])

let statsVerb = Verb(statsSpec) { args in
    let timeout = try timeoutOption(args, spec: statsSpec)
    let op = try openOperator(args, spec: statsSpec)
    let snapshot = try op.stats(broker: args.value("broker"), timeout: timeout)
    if args.flag("json") {
        FileHandle.standardOutput.write(snapshot.json() + Data("\n".utf8))
    } else {
        let lines = WatchScreen.render(snapshot, layout: .init(width: nil, height: nil, colour: stdoutWantsColour))
        Output.line(lines.joined(separator: "\n"))
    }
    return ExitCode.ok
}
