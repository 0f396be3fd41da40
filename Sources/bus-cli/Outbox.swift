import AgencyBus
import Foundation

let outboxSpec = CommandSpec(
    tool: "bus-cli", name: "outbox",
    abstract: "List what this node sent that the broker has not accepted yet (queued, or refused with the reason).",
    discussion: "The next 'bus-cli send' or 'bus-cli subscribe' submits the queued ones again.",
    options: [nodeOption, jsonOption])

let outboxVerb = Verb(outboxSpec) { args in
    let node = try openNode(args, spec: outboxSpec)
    let waiting = try node.store.outbox()
    let refused = try node.store.messages(direction: "out", limit: 1_000_000).filter { $0.state == "refused" }.reversed()
    for m in waiting + refused {
        var o: [String: Any]
        var line: String
        switch m.kind {
        case "letter":
            guard let letter = decodeLetter(m.header) else { continue }
            let agenda = try node.store.agendaNumbers(messageID: letter.id)
            o = letterJSON(letter, status: m.state, agenda: agenda)
            line = letterLine(letter, status: m.state, agenda: agenda.first)
        case "disposition":
            guard let d = try? JSONDecoder().decode(Disposition.self, from: m.header) else { continue }
            o = dispositionJSON(d, subject: m.subject, status: m.state, today: node.store.calendar.today())
            line = dispositionLine(d, subject: m.subject, status: m.state, today: node.store.calendar.today())
        default:
            guard let st = try? JSONDecoder().decode(StatusUpdate.self, from: m.header) else { continue }
            o = ["id": st.id, "kind": "status", "from": st.from, "to": [st.to], "subject": m.subject, "status": m.state,
                 "item": st.item, "value": st.status]
            line = "\(st.created)  \(st.id)  \(m.state.padding(toLength: 8, withPad: " ", startingAt: 0))  status \(st.status) on \(st.item) → \(st.to)"
        }
        if let r = m.stateReason { o["reason"] = r; line += "  (\(r))" }
        if args.flag("json") { Output.json(o) } else { Output.line(line) }
    }
    if waiting.isEmpty && refused.isEmpty && !args.flag("json") { printErr("(outbox empty: everything was accepted)") }
    return ExitCode.ok
}
