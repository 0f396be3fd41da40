import AgencyBus
import Foundation

let tailSpec = CommandSpec(
    tool: "bus-cli", name: "tail",
    abstract: "Follow the bus live: one line per broker event (operators only), like tail -f.",
    discussion: """
    Events: accepted, delivered, rejected, refused, connected, disconnected, operator-dropped,
    with message id and kind, sender, recipients, size, latency, refusal code and reason. No
    subject or body unless the topology grants this operator "content": true. Each line is
    flushed at once (also into a pipe). --agency keeps the events that involve that agency.
    Runs until SIGINT/SIGTERM (exit 0); keeps watching across broker restarts.
    """,
    options: [operatorOption, brokerOption,
              OptionSpec("agency", value: "ID", help: "Only events sent by, addressed to or counted for this agency"),
              jsonOption, verboseOption] + logOptions)

let tailVerb = Verb(tailSpec) { args in
    let op = try openOperator(args, spec: tailSpec)
    let agency = args.value("agency")
    if let agency, op.topology.agency(agency) == nil {
        throw UsageError("--agency: no agency '\(agency)' in \(op.config.topology)", spec: tailSpec)
    }
    let json = args.flag("json")
    StopSignal.install()
    let stream = try op.watch(broker: args.value("broker"))
    while !StopSignal.requested {
        for update in try stream.next(timeoutMs: 200) {
            switch update {
            case .event(let e):
                if let agency, !e.involves(agency: agency) { continue }
                if json { FileHandle.standardOutput.write(e.json() + Data("\n".utf8)) } else { Output.line(WatchScreen.eventLine(e)) }
            case .lost(let why):
                printErr("warning: \(why)")
            case .restored:
                printErr("connected to broker '\(stream.broker.id)' again")
            case .stats:
                break
            }
        }
    }
    return ExitCode.ok
}
