import AgencyBus
import Foundation

let inboxSpec = CommandSpec(
    tool: "bus-cli", name: "inbox",
    abstract: "List received letters and dispositions, newest first (dispositions with due dates; overdue marked).",
    options: [nodeOption,
              OptionSpec("unit", value: "U", help: "Only items addressed (to or cc) to this unit of the agency"),
              OptionSpec("limit", value: "N", help: "At most N items (default 100)"),
              jsonOption])

let inboxVerb = Verb(inboxSpec) { args in
    let node = try openNode(args, spec: inboxSpec)
    var limit = 100
    if let l = args.value("limit") {
        guard let v = Int(l), v > 0 else { throw UsageError("--limit must be a positive number, got '\(l)'", spec: inboxSpec) }
        limit = v
    }
    let unit = args.value("unit")
    if let unit, node.topology.agency(node.agency)?.units.contains(where: { $0.id == unit }) != true {
        throw NodeError.data("--unit: agency '\(node.agency)' has no unit '\(unit)'")
    }
    let address = unit.map { "\(node.agency)/\($0)" }
    var shown = 0
    let today = node.store.calendar.today()
    for m in try node.store.received(limit: unit == nil ? limit * 4 : 1_000_000) {
        if shown >= limit { break }
        switch m.kind {
        case "letter":
            guard let letter = decodeLetter(m.header) else { continue }
            if let address, !(letter.to + letter.cc).contains(address) { continue }
            let agenda = try node.store.agendaNumbers(messageID: letter.id)
            if args.flag("json") { Output.json(letterJSON(letter, status: m.state, agenda: agenda)) }
            else { Output.line(letterLine(letter, status: m.state, agenda: agenda.first)) }
        case "disposition":
            guard let d = try? JSONDecoder().decode(Disposition.self, from: m.header) else { continue }
            if let address, !d.to.contains(address) { continue }
            let own = try node.store.statuses(item: d.id).filter { $0.from.hasPrefix(node.agency) }.last?.status
            let state = own ?? m.state
            if args.flag("json") { Output.json(dispositionJSON(d, subject: m.subject, status: state, today: today)) }
            else { Output.line(dispositionLine(d, subject: m.subject, status: state, today: today)) }
        default:
            continue
        }
        shown += 1
    }
    if shown == 0 && !args.flag("json") { printErr("(no letters)") }
    return ExitCode.ok
}
