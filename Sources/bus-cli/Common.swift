import AgencyBus
import Foundation

let nodeOption = OptionSpec("node", value: "DIR", help: "(required) The node directory (or set AGENCYBUS_NODE)")
let jsonOption = OptionSpec("json", help: "One JSON object per line on stdout")
let verboseOption = OptionSpec("verbose", short: "v", help: "Log what happens to stderr (logfmt)")

/// The node directory from --node or AGENCYBUS_NODE.
func nodeDirectory(_ args: ParsedArguments, spec: CommandSpec) throws -> String {
    if let dir = args.value("node") { return dir }
    if let dir = ProcessInfo.processInfo.environment["AGENCYBUS_NODE"], !dir.isEmpty { return dir }
    throw UsageError("missing required option '--node <DIR>' (or set AGENCYBUS_NODE)", spec: spec)
}

/// --log-format/--log-level on the long-running verbs (subscribe, tail, watch).
let logOptions = [
    OptionSpec("log-format", value: "FORMAT", help: "logfmt (default) or json; or set AGENCYBUS_LOG_FORMAT"),
    OptionSpec("log-level", value: "LEVEL", help: "debug, info, warning (default) or error; or set AGENCYBUS_LOG_LEVEL"),
]

/// The logger: --log-format/--log-level, else --verbose (debug), else AGENCYBUS_LOG_FORMAT /
/// AGENCYBUS_LOG_LEVEL, else logfmt at warning. A bad value is a usage error naming its source.
func cliLogger(_ args: ParsedArguments, spec: CommandSpec) throws -> Logger {
    do {
        let s = try LogSettings.resolve(format: args.value("log-format"), level: args.value("log-level"),
                                        verbose: args.flag("verbose"), environment: ProcessInfo.processInfo.environment,
                                        defaultLevel: .warning)
        return Logger(label: "bus-cli", minimum: s.level, format: s.format)
    } catch let e as LogSettings.Invalid {
        throw UsageError(e.description, spec: spec)
    }
}

func openNode(_ args: ParsedArguments, spec: CommandSpec) throws -> AgencyNode {
    try AgencyNode(directory: try nodeDirectory(args, spec: spec), logger: try cliLogger(args, spec: spec))
}

/// Splits `a,b` lists and repeated options into addresses; errors name the option.
func addresses(_ values: [String], option: String) throws -> [Address] {
    var out: [Address] = []
    for value in values {
        for part in value.split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            do { out.append(try Address(parsing: text)) } catch let e as ValidationError {
                throw NodeError.data("--\(option): \(e.reason)")
            }
        }
    }
    return out
}

/// The JSON shape of a letter shared by subscribe, inbox, outbox and show. `agenda`: this
/// node's agenda numbers of the letter (IN first); the first is printed as `agendaNumber`.
func letterJSON(_ letter: Letter, status: String, agenda: [AgendaNumber] = []) -> [String: Any] {
    var o: [String: Any] = [
        "id": letter.id, "kind": "letter", "from": letter.from, "to": letter.to, "cc": letter.cc,
        "subject": letter.subject, "status": status, "number": letter.number, "date": letter.date,
        "classification": letter.classification, "urgency": letter.urgency, "created": letter.created,
        "attachments": letter.attachments.map { ["name": $0.name, "size": $0.size, "mediaType": $0.mediaType, "sha256": $0.sha256] },
    ]
    if let r = letter.replyTo { o["replyTo"] = r }
    if let n = agenda.first { o["agendaNumber"] = n.text }
    return o
}

/// One short human line for a letter: time, id, agenda number, sender, recipients, flags, subject.
func letterLine(_ letter: Letter, status: String, agenda: AgendaNumber? = nil) -> String {
    var flags: [String] = []
    if letter.urgency != "biasa" { flags.append(letter.urgency.uppercased()) }
    if letter.classification != "biasa" { flags.append(letter.classification.uppercased()) }
    if !letter.attachments.isEmpty { flags.append("\(letter.attachments.count) attachment(s)") }
    let f = flags.isEmpty ? "" : " [" + flags.joined(separator: ", ") + "]"
    return "\(letter.created)  \(letter.id)  \(agenda.map { "\($0.text)  " } ?? "")\(status.padding(toLength: 8, withPad: " ", startingAt: 0))  \(letter.from) → \((letter.to + letter.cc).joined(separator: ","))  \(letter.subject)\(f)"
}

func decodeLetter(_ header: Data) -> Letter? { try? JSONDecoder().decode(Letter.self, from: header) }

/// `today`: the agency's today (`node.store.calendar.today()`), which decides what is overdue.
func dispositionJSON(_ d: Disposition, subject: String, status: String, today: String) -> [String: Any] {
    var o: [String: Any] = ["id": d.id, "kind": "disposition", "from": d.from, "to": d.to, "subject": subject,
                            "status": status, "letter": d.letter, "instructions": d.instructions, "note": d.note,
                            "urgency": d.urgency, "created": d.created]
    if let p = d.parent { o["parent"] = p }
    if let due = d.due {
        o["due"] = due
        o["overdue"] = due < today
    }
    return o
}

func dispositionLine(_ d: Disposition, subject: String, status: String, today: String) -> String {
    var due = ""
    if let d = d.due { due = d < today ? " OVERDUE (due \(d))" : " due \(d)" }
    return "\(d.created)  \(d.id)  \(status.padding(toLength: 8, withPad: " ", startingAt: 0))  DISPOSISI \(d.from) → \(d.to.joined(separator: ",")) [\(d.instructions.joined(separator: ", "))]\(due)  \(subject)"
}

/// A letter or disposition id given on the command line: ULIDs are case-insensitive, so a
/// lowercase one is taken as its canonical uppercase; anything else is refused (65) saying
/// what an id looks like and where to find one.
func messageIDArgument(_ text: String) throws -> String {
    let id = text.uppercased()
    guard MessageID.isValid(id) else {
        throw NodeError.data("'\(text)' is not a letter or disposition id (26 characters, like 01KJP57VCMTSZ1KY5CEFFXFNZ9); 'bus-cli inbox' lists them")
    }
    return id
}
