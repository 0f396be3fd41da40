import AgencyBus
import Foundation

let statusSpec = CommandSpec(
    tool: "bus-cli", name: "status",
    abstract: "Report read, in-progress or done on a letter or disposition you hold.",
    discussion: "The signed update goes back to whoever sent the item. Exits 0 once the broker accepted it.",
    arguments: [ArgumentSpec("ID", help: "The letter or disposition"),
                ArgumentSpec("STATUS", help: "read, in-progress or done")],
    options: [nodeOption,
              OptionSpec("note", value: "T", help: "A note (e.g. what was done)"),
              OptionSpec("from-unit", value: "U", help: "The reporting unit, when the item went to several units of this agency"),
              OptionSpec("timeout", value: "SECONDS", help: "How long to wait for the broker (default 10)"),
              jsonOption, verboseOption])

let statusVerb = Verb(statusSpec) { args in
    let id = try messageIDArgument(args.positionals[0])
    let value: StatusUpdate.Value
    do { value = try StatusUpdate.Value.parse(args.positionals[1]) } catch let e as ValidationError {
        throw UsageError(e.reason, spec: statusSpec)
    }
    let timeout = try timeoutOption(args, spec: statusSpec)
    let node = try openNode(args, spec: statusSpec)
    guard MessageID.isValid(id) else { throw NodeError.data("'\(id)' is not a letter or disposition id") }
    let envelope = try node.composeStatus(of: id, value, note: args.value("note"), fromUnit: args.value("from-unit"))
    let st = try envelope.decode(StatusUpdate.self)
    let outcome = try deliverOutbox(node: node, waitingFor: envelope.id, timeout: timeout)
    var o: [String: Any] = ["id": st.id, "kind": "status", "item": st.item, "letter": st.letter, "from": st.from, "to": st.to]
    if let n = st.note { o["note"] = n }
    o["value"] = st.status
    return try finish(outcome, id: envelope.id, json: args.flag("json") ? o : nil, node: node)
}
