import AgencyBus
import Foundation

let agendaSpec = CommandSpec(
    tool: "bus-cli", name: "agenda",
    abstract: "The register (agenda harian): letters in and out of a day, and dispositions due or overdue.",
    discussion: """
    Every letter this node receives or sends has an agenda number per direction and year,
    like 0412/IN/2026, given once when it is stored: gapless and in order of storage. Days
    and years follow the agency's time zone (the topology's timeZone, else this machine's).
    Without --date or --from, the agenda is today's. Dispositions listed: due in the period
    (any status) and due before it but not done, one line per holder.
    """,
    options: [
        nodeOption,
        OptionSpec("date", value: "YYYY-MM-DD", help: "One day (default: today in the agency's zone)"),
        OptionSpec("from", value: "YYYY-MM-DD", help: "First day of a range (with --to; alone: through today)"),
        OptionSpec("to", value: "YYYY-MM-DD", help: "Last day of a range"),
        OptionSpec("direction", value: "in|out", help: "Only letters received (in) or sent (out)"),
        OptionSpec("csv", help: "RFC 4180 CSV with a header row, for spreadsheets"),
        jsonOption,
    ])

let agendaVerb = Verb(agendaSpec) { args in
    if args.flag("json") && args.flag("csv") { throw UsageError("--json and --csv cannot both be given", spec: agendaSpec) }
    if args.has("date") && (args.has("from") || args.has("to")) {
        throw UsageError("give either --date or --from/--to, not both", spec: agendaSpec)
    }
    if args.has("to") && !args.has("from") { throw UsageError("--to needs --from", spec: agendaSpec) }
    let direction = args.value("direction")
    if let d = direction, d != "in" && d != "out" {
        throw UsageError("--direction must be 'in' or 'out', got '\(d)'", spec: agendaSpec)
    }
    for name in ["date", "from", "to"] {
        if let v = args.value(name), !CalendarDate.isValid(v) { throw NodeError.data("--\(name): '\(v)' is not a date YYYY-MM-DD") }
    }
    let node = try openNode(args, spec: agendaSpec)
    let today = node.store.calendar.today()
    let from = args.value("date") ?? args.value("from") ?? today
    let to = args.value("date") ?? args.value("to") ?? (args.has("from") ? max(today, from) : today)
    guard from <= to else { throw NodeError.data("--from \(from) is after --to \(to)") }
    let report = try AgendaReport.build(store: node.store, agency: node.agency, from: from, to: to, direction: direction)
    if args.flag("json") {
        for line in report.jsonLines() { Output.line(line) }
    } else if args.flag("csv") {
        FileHandle.standardOutput.write(Data(report.csv().utf8))
    } else {
        Output.line(report.text())
    }
    return ExitCode.ok
}
