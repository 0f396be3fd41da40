import AgencyBus
import Foundation

let sendSpec = CommandSpec(
    tool: "bus-cli", name: "send",
    abstract: "Sign and send a letter; print its id once the broker accepted it.",
    discussion: """
    The letter is stored in the node's outbox first. If the broker does not answer within
    --timeout seconds, it stays there (exit 69, status "queued") and the next send or
    subscribe delivers it.
    """,
    options: [
        nodeOption,
        OptionSpec("to", value: "ID[/UNIT][,...]", help: "(required) Recipients: agencies or agency/unit", repeatable: true),
        OptionSpec("cc", value: "ID[/UNIT][,...]", help: "Carbon copies (tembusan)", repeatable: true),
        OptionSpec("subject", value: "S", help: "(required) Subject (perihal)"),
        OptionSpec("body", value: "T", help: "Body text"),
        OptionSpec("body-file", value: "F", help: "Read the body from a UTF-8 file"),
        OptionSpec("attach", value: "FILE", help: "Attach a file (32 MiB in all per letter)", repeatable: true),
        OptionSpec("number", value: "N", help: "Letter number (nomor surat); default AB/<id tail>"),
        OptionSpec("date", value: "YYYY-MM-DD", help: "Letter date; default today"),
        OptionSpec("classification", value: "C", help: "biasa (default), terbatas, rahasia, sangat-rahasia"),
        OptionSpec("urgency", value: "U", help: "biasa (default), segera, sangat-segera"),
        OptionSpec("from-unit", value: "U", help: "The sending unit inside this agency"),
        OptionSpec("reply-to", value: "ID", help: "The id of the letter this answers"),
        OptionSpec("timeout", value: "SECONDS", help: "How long to wait for the broker (default 10)"),
        jsonOption, verboseOption,
    ])

let sendVerb = Verb(sendSpec) { args in
    let to = try addresses(args.values("to"), option: "to")
    guard !to.isEmpty else { throw UsageError("missing required option '--to <ID[/UNIT][,...]>'", spec: sendSpec) }
    let subject = try CommandLineParser.required("subject", in: args, spec: sendSpec)
    let body: String
    switch (args.value("body"), args.value("body-file")) {
    case (let b?, nil): body = b
    case (nil, let f?):
        guard let data = FileManager.default.contents(atPath: f) else { throw NodeError.data("--body-file: cannot read '\(f)'") }
        guard let text = String(data: data, encoding: .utf8) else { throw NodeError.data("--body-file: '\(f)' is not UTF-8 text") }
        body = text
    case (nil, nil): throw UsageError("give the body with --body T or --body-file F", spec: sendSpec)
    default: throw UsageError("--body and --body-file cannot both be given", spec: sendSpec)
    }
    var timeout = 10.0
    if let t = args.value("timeout") {
        guard let v = Double(t), v > 0, v <= 3600 else { throw UsageError("--timeout must be seconds between 0 and 3600, got '\(t)'", spec: sendSpec) }
        timeout = v
    }
    var draft = AgencyNode.Draft(to: to, subject: subject, body: body)
    draft.cc = try addresses(args.values("cc"), option: "cc")
    draft.attachments = args.values("attach").map { URL(fileURLWithPath: $0) }
    draft.number = args.value("number")
    if let d = args.value("date") {
        guard CalendarDate.isValid(d) else { throw NodeError.data("--date: '\(d)' is not a date YYYY-MM-DD") }
        draft.date = d
    }
    if let c = args.value("classification") { draft.classification = try Classification.parse(c, field: "--classification") }
    if let u = args.value("urgency") { draft.urgency = try Urgency.parse(u, field: "--urgency") }
    draft.fromUnit = args.value("from-unit")
    if let r = args.value("reply-to") {
        guard MessageID.isValid(r) else { throw NodeError.data("--reply-to: '\(r)' is not a letter id") }
        draft.replyTo = r
    }

    let node = try openNode(args, spec: sendSpec)
    let envelope = try node.compose(draft)
    let id = envelope.id
    let outcome = try deliverOutbox(node: node, waitingFor: id, timeout: timeout)
    switch outcome {
    case .accepted(let at):
        if args.flag("json") { Output.json(["id": id, "status": "accepted", "acceptedAt": at]) } else { Output.line(id) }
        return ExitCode.ok
    case .refused(let error):
        if args.flag("json") { Output.json(["id": id, "status": "refused", "code": error.code.rawValue, "reason": error.reason]) }
        throw NodeError.refused(error)
    case .queued(let why):
        if args.flag("json") { Output.json(["id": id, "status": "queued"]) } else { Output.line(id) }
        printErr("Error: \(why); letter \(id) is kept in the outbox of \(node.directory) and will be sent by the next 'bus-cli send' or 'bus-cli subscribe'")
        return ExitCode.unavailable
    }
}

enum SendOutcome {
    case accepted(at: String)
    case refused(ProtocolError)
    case queued(String)
}

/// Submits the whole outbox and waits until the broker accepts or refuses `id`.
func deliverOutbox(node: AgencyNode, waitingFor id: String, timeout: Double) throws -> SendOutcome {
    let client = try node.connect()
    try node.flushOutbox(client)
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let ms = max(1, Int(deadline.timeIntervalSinceNow * 1000))
        let command: BrokerCommand?
        do { command = try client.receive(timeoutMs: min(ms, 500)) } catch let e as ProtocolError {
            node.log.warning("unreadable answer from broker", ["reason": e.reason])
            continue
        }
        guard let command else { continue }
        for event in try node.handle([command], client: client) {
            switch event {
            case .accepted(let acceptedID, let at) where acceptedID == id: return .accepted(at: at)
            case .refused(let refusedID, let error) where refusedID == id:
                if error.code == .storageFull || error.code == .storageError { return .queued(error.reason) }
                return .refused(error)
            default: continue
            }
        }
    }
    return .queued("\(node.brokerDescription) did not answer within \(Int(timeout)) s")
}
