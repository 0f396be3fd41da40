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
    Operators trace any letter with --operator DIR instead of --node; without the topology's
    "content" grant they see the route without subjects or notes.
    """,
    arguments: [ArgumentSpec("ID", help: "A letter or disposition id")],
    options: [nodeOption,
              OptionSpec("operator", value: "DIR", help: "Trace as an operator (instead of --node)"),
              brokerOption,
              OptionSpec("timeout", value: "SECONDS", help: "How long to wait for the broker (default 10)"),
              jsonOption, verboseOption])

let traceVerb = Verb(traceSpec) { args in
    let id = try messageIDArgument(args.positionals[0])
    let timeout = try timeoutOption(args, spec: traceSpec)
    let report: TraceReport
    var node: AgencyNode?
    if args.value("operator") != nil {
        guard args.value("node") == nil else { throw UsageError("--node and --operator: give one of them", spec: traceSpec) }
        report = try openOperator(args, spec: traceSpec).trace(id: id, broker: args.value("broker"), timeout: timeout)
    } else {
        let n = try openNode(args, spec: traceSpec)
        node = n
        report = try n.trace(id: id, timeout: timeout)
    }
    // Overdue is judged by the agency's calendar; an operator has none but the machine's.
    let today = node?.store.calendar.today() ?? CalendarDate.today()
    guard let tree = TraceTree.build(report, today: today) else {
        throw NodeError.data("the broker's trace of \(id) has no letter")
    }
    // This node's own register numbers of the letter (IN first), when it has it.
    let agenda = try node?.store.agendaNumbers(messageID: report.letter) ?? []
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
