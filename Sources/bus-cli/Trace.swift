import AgencyBus
import Foundation

let traceSpec = CommandSpec(
    tool: "bus-cli", name: "trace",
    abstract: "Show where a letter went: the route tree of deliveries and dispositions with times.",
    discussion: """
    ID is the letter or any disposition in its tree (the tree is shown whole, that item marked ▶).
    Each line shows the hop, where, when, and the latency from the hop before it; what is still
    open (not received, not read, not done) is marked '!', overdue dispositions in red on a TTY.
    The broker answers only agencies involved in the letter; to everyone else it is "not found".
    """,
    arguments: [ArgumentSpec("ID", help: "A letter or disposition id")],
    options: [nodeOption,
              OptionSpec("timeout", value: "SECONDS", help: "How long to wait for the broker (default 10)"),
              jsonOption, verboseOption])

let traceVerb = Verb(traceSpec) { args in
    let id = args.positionals[0]
    let timeout = try timeoutOption(args, spec: traceSpec)
    guard MessageID.isValid(id) else { throw NodeError.data("'\(id)' is not a letter or disposition id") }
    let node = try openNode(args, spec: traceSpec)
    let report = try node.trace(id: id, timeout: timeout)
    guard let tree = TraceTree.build(report, today: node.store.calendar.today()) else {
        throw NodeError.data("the broker's trace of \(id) has no letter")
    }
    // This node's own register numbers of the letter (IN first), when it has it.
    let agenda = try node.store.agendaNumbers(messageID: report.letter)
    if args.flag("json") {
        var o: [String: Any] = ["id": report.letter, "query": id, "tree": tree.json()]
        if let n = agenda.first { o["agendaNumber"] = n.text; o["agendaNumbers"] = agenda.map(\.text) }
        Output.json(o)
    } else {
        let tty = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        Output.line(TraceTree.render(tree, colour: tty, agenda: agenda.isEmpty ? nil : agenda.map(\.text).joined(separator: ", ")))
    }
    return ExitCode.ok
}
