import AgencyBus
import Foundation

let showSpec = CommandSpec(
    tool: "bus-cli", name: "show",
    abstract: "Show one letter or disposition: header, attachments, signature check, delivery status.",
    discussion: "The first time a holder opens an item, its 'read' status is sent to whoever sent the item.",
    arguments: [ArgumentSpec("ID", help: "The letter or disposition id")],
    options: [nodeOption,
              OptionSpec("save-attachments", value: "DIR", help: "Write the attachments into DIR"),
              jsonOption])

let showVerb = Verb(showSpec) { args in
    let node = try openNode(args, spec: showSpec)
    let id = try messageIDArgument(args.positionals[0])
    guard let m = try node.store.message(id: id), let envelope = try node.store.envelope(id: id),
          m.kind == "letter" || m.kind == "disposition" else {
        throw NodeError.data("no letter or disposition \(id) in \(node.directory)")
    }
    markRead(node: node, summary: m)
    guard let letter = decodeLetter(m.header) else {
        return try showDisposition(node: node, summary: m, envelope: envelope, json: args.flag("json"))
    }
    // Verify again now, against the topology as it is today.
    let signature = signatureCheck(node: node, envelope: envelope)
    if let dir = args.value("save-attachments") {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (info, data) in zip(letter.attachments, envelope.attachments) {
            try data.write(to: URL(fileURLWithPath: dir).appendingPathComponent(info.name))
        }
    }
    let deliveries = try node.store.deliveries(id: id)
    let agenda = try node.store.agendaNumbers(messageID: id)
    if args.flag("json") {
        var o = letterJSON(letter, status: m.state, agenda: agenda)
        o["agendaNumbers"] = agenda.map(\.text)
        o["body"] = letter.body
        o["direction"] = m.direction
        o["signature"] = signature
        o["sha256"] = envelope.hash.hexString
        if let a = m.acceptedAt { o["acceptedAt"] = a }
        if m.direction == "out" {
            o["deliveries"] = deliveries.map { d -> [String: Any] in
                var x: [String: Any] = ["recipient": d.recipient, "status": d.state]
                if let r = d.reason { x["reason"] = r }
                if let at = d.at { x["at"] = at }
                return x
            }
        }
        Output.json(o)
        return ExitCode.ok
    }
    var lines = [
        "Letter      \(letter.id)",
        "Agenda      \(agenda.isEmpty ? "-" : agenda.map(\.text).joined(separator: ", "))",
        "Number      \(letter.number)   Date \(letter.date)",
        "From        \(letter.from)",
        "To          \(letter.to.joined(separator: ", "))",
    ]
    if !letter.cc.isEmpty { lines.append("Cc          \(letter.cc.joined(separator: ", "))") }
    lines += [
        "Subject     \(letter.subject)",
        "Sifat       \(letter.classification)   Urgency \(letter.urgency)",
        "Created     \(letter.created)\(m.acceptedAt.map { "   accepted by broker \($0)" } ?? "")",
        "Status      \(m.state)\(m.stateReason.map { " (\($0))" } ?? "")",
        "Signature   \(signature)",
    ]
    if let r = letter.replyTo { lines.append("Reply to    \(r)") }
    for (i, a) in letter.attachments.enumerated() {
        lines.append("Attachment  \(i + 1). \(a.name)  \(a.size) bytes  \(a.mediaType)  sha256 \(a.sha256)")
    }
    for d in deliveries {
        lines.append("Delivery    \(d.recipient): \(d.state)\(d.at.map { " at \($0)" } ?? "")\(d.reason.map { " (\($0))" } ?? "")")
    }
    lines += ["", letter.body]
    Output.line(lines.joined(separator: "\n"))
    return ExitCode.ok
}

/// The first `show` by a holder sends the item's `read` status (once; kept in the outbox if
/// the broker is away, and sent later).
func markRead(node: AgencyNode, summary m: NodeStore.Summary) {
    guard m.received, m.readSentAt == nil, (try? node.heldItem(m.id)) != nil else { return }
    do {
        let envelope = try node.composeStatus(of: m.id, .read, note: nil)
        switch try deliverOutbox(node: node, waitingFor: envelope.id, timeout: 3) {
        case .accepted: printErr("(marked read: status sent to \(m.sender))")
        case .queued: printErr("(marked read: status kept in the outbox until the broker answers)")
        case .refused(let e): printErr("warning: the broker refused the read status: \(e.reason)")
        }
    } catch {
        printErr("warning: could not record the read status: \(error)")
    }
}

func signatureCheck(node: AgencyNode, envelope: Envelope) -> String {
    let keys = node.topology.verificationKeys(ofAgency: envelope.signerID, created: envelope.common.created)
    guard !keys.isEmpty else {
        return "unknown: no key for '\(envelope.signerID)' in the topology"
    }
    do { try envelope.verify(withAnyOf: keys); return "valid" } catch { return "INVALID: \(error)" }
}

func showDisposition(node: AgencyNode, summary m: NodeStore.Summary, envelope: Envelope, json: Bool) throws -> Int32 {
    let d = try envelope.decode(Disposition.self)
    let statuses = try node.store.statuses(item: d.id)
    if json {
        var o = dispositionJSON(d, subject: m.subject, status: m.state, today: node.store.calendar.today())
        o["direction"] = m.direction
        o["signature"] = signatureCheck(node: node, envelope: envelope)
        o["statuses"] = statuses.map { ["from": $0.from, "status": $0.status, "at": $0.created, "note": $0.note ?? ""] }
        Output.json(o)
        return ExitCode.ok
    }
    var lines = [
        "Disposition \(d.id)",
        "Letter      \(d.letter)  \(m.subject)",
        "Parent      \(d.parent ?? "(first disposition on the letter)")",
        "From        \(d.from)",
        "To          \(d.to.joined(separator: ", "))",
        "Instruction \(d.instructions.joined(separator: ", "))",
        "Due         \(d.due.map { $0 < node.store.calendar.today() ? "\($0) (OVERDUE)" : $0 } ?? "-")   Urgency \(d.urgency)",
        "Created     \(d.created)",
        "Signature   \(signatureCheck(node: node, envelope: envelope))",
    ]
    for st in statuses { lines.append("Status      \(st.status) by \(st.from) at \(st.created)\(st.note.map { " \"\($0)\"" } ?? "")") }
    if !d.note.isEmpty { lines += ["", d.note] }
    Output.line(lines.joined(separator: "\n"))
    return ExitCode.ok
}
