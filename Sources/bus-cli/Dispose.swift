import AgencyBus
import Foundation

let disposeSpec = CommandSpec(
    tool: "bus-cli", name: "dispose",
    abstract: "Dispose a letter or disposition you hold to one or more units (disposisi).",
    discussion: """
    ID is a letter or a disposition this agency received. The new disposition is signed,
    kept in the outbox, and sent; a unit in another agency also receives the letter itself.
    Instructions: \(Instruction.allCases.map(\.rawValue).joined(separator: ", ")).
    Exit 77 when this agency does not hold ID, 65 for an unknown id, instruction or a past due date.
    """,
    arguments: [ArgumentSpec("ID", help: "The letter or disposition to dispose")],
    options: [
        nodeOption,
        OptionSpec("to", value: "ID/UNIT[,...]", help: "(required) Who receives the disposition", repeatable: true),
        OptionSpec("instruction", value: "I[,...]", help: "(required) One or more instructions", repeatable: true),
        OptionSpec("note", value: "T", help: "Free text for the recipients"),
        OptionSpec("due", value: "YYYY-MM-DD", help: "Due date (today or later)"),
        OptionSpec("from-unit", value: "U", help: "The disposing unit (default: the unit the item was addressed to)"),
        OptionSpec("urgency", value: "U", help: "biasa (default), segera, sangat-segera"),
        OptionSpec("timeout", value: "SECONDS", help: "How long to wait for the broker (default 10)"),
        jsonOption, verboseOption,
    ])

let disposeVerb = Verb(disposeSpec) { args in
    let id = try messageIDArgument(args.positionals[0])
    let to = try addresses(args.values("to"), option: "to")
    guard !to.isEmpty else { throw UsageError("missing required option '--to <ID/UNIT[,...]>'", spec: disposeSpec) }
    var instructions: [Instruction] = []
    for value in args.values("instruction") {
        for part in value.split(separator: ",") {
            do { instructions.append(try Instruction.parse(part.trimmingCharacters(in: .whitespaces))) } catch let e as ValidationError {
                throw NodeError.data("--instruction: \(e.reason)")
            }
        }
    }
    guard !instructions.isEmpty else { throw UsageError("missing required option '--instruction <I[,...]>'", spec: disposeSpec) }
    var draft = AgencyNode.DispositionDraft(to: to, instructions: instructions)
    draft.note = args.value("note") ?? ""
    draft.due = args.value("due")
    draft.fromUnit = args.value("from-unit")
    if let u = args.value("urgency") { draft.urgency = try Urgency.parse(u, field: "--urgency") }
    let timeout = try timeoutOption(args, spec: disposeSpec)
    let node = try openNode(args, spec: disposeSpec)
    guard MessageID.isValid(id) else { throw NodeError.data("'\(id)' is not a letter or disposition id") }
    let envelope = try node.composeDisposition(of: id, draft)
    let d = try envelope.decode(Disposition.self)
    let outcome = try deliverOutbox(node: node, waitingFor: envelope.id, timeout: timeout)
    var o: [String: Any] = ["id": d.id, "kind": "disposition", "letter": d.letter, "from": d.from, "to": d.to,
                            "instructions": d.instructions, "note": d.note, "urgency": d.urgency]
    if let p = d.parent { o["parent"] = p }
    if let due = d.due { o["due"] = due }
    return try finish(outcome, id: envelope.id, json: args.flag("json") ? o : nil, node: node)
}

/// --timeout SECONDS (default 10), checked.
func timeoutOption(_ args: ParsedArguments, spec: CommandSpec) throws -> Double {
    guard let t = args.value("timeout") else { return 10 }
    guard let v = Double(t), v > 0, v <= 3600 else { throw UsageError("--timeout must be seconds between 0 and 3600, got '\(t)'", spec: spec) }
    return v
}

/// Prints the outcome of a submission the same way for every verb, returning the exit code.
func finish(_ outcome: SendOutcome, id: String, json: [String: Any]?, node: AgencyNode) throws -> Int32 {
    switch outcome {
    case .accepted(let at):
        if var o = json { o["status"] = "accepted"; o["acceptedAt"] = at; Output.json(o) } else { Output.line(id) }
        return ExitCode.ok
    case .refused(let error):
        if var o = json { o["status"] = "refused"; o["code"] = error.code.rawValue; o["reason"] = error.reason; Output.json(o) }
        throw NodeError.refused(error)
    case .queued(let why):
        if var o = json { o["status"] = "queued"; Output.json(o) } else { Output.line(id) }
        printErr("Error: \(why); \(id) is kept in the outbox of \(node.directory) and will be sent by the next 'bus-cli send' or 'bus-cli subscribe'")
        return ExitCode.unavailable
    }
}
