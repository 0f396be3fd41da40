import AgencyBus
import Foundation

let outboxSpec = CommandSpec(
    tool: "bus-cli", name: "outbox",
    abstract: "List sent letters the broker has not accepted yet (queued, or refused with the reason).",
    discussion: "The next 'bus-cli send' or 'bus-cli subscribe' submits the queued ones again.",
    options: [nodeOption, jsonOption])

let outboxVerb = Verb(outboxSpec) { args in
    let node = try openNode(args, spec: outboxSpec)
    let waiting = try node.store.outbox()
    let refused = try node.store.messages(direction: "out", limit: 1_000_000).filter { $0.state == "refused" }.reversed()
    for m in waiting + refused {
        guard let letter = decodeLetter(m.header) else { continue }
        if args.flag("json") {
            var o = letterJSON(letter, status: m.state)
            if let r = m.stateReason { o["reason"] = r }
            Output.json(o)
        } else {
            Output.line(letterLine(letter, status: m.state) + (m.stateReason.map { "  (\($0))" } ?? ""))
        }
    }
    if waiting.isEmpty && refused.isEmpty && !args.flag("json") { printErr("(outbox empty: every letter was accepted)") }
    return ExitCode.ok
}
