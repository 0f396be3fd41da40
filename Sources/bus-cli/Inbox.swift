import AgencyBus
import Foundation

let inboxSpec = CommandSpec(
    tool: "bus-cli", name: "inbox",
    abstract: "List received letters, newest first.",
    options: [nodeOption,
              OptionSpec("unit", value: "U", help: "Only letters addressed (to or cc) to this unit of the agency"),
              OptionSpec("limit", value: "N", help: "At most N letters (default 100)"),
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
    var shown = 0
    for m in try node.store.messages(direction: "in", limit: unit == nil ? limit : 1_000_000) where m.kind == "letter" {
        guard let letter = decodeLetter(m.header) else { continue }
        if let unit, !(letter.to + letter.cc).contains("\(node.agency)/\(unit)") { continue }
        if args.flag("json") { Output.json(letterJSON(letter, status: m.state)) } else { Output.line(letterLine(letter, status: m.state)) }
        shown += 1
        if shown >= limit { break }
    }
    if shown == 0 && !args.flag("json") { printErr("(no letters)") }
    return ExitCode.ok
}
