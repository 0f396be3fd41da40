import AgencyBus
import Foundation

let showSpec = CommandSpec(
    tool: "bus-cli", name: "show",
    abstract: "Show one letter: header, attachments, signature check, and delivery status.",
    arguments: [ArgumentSpec("ID", help: "The letter id")],
    options: [nodeOption,
              OptionSpec("save-attachments", value: "DIR", help: "Write the attachments into DIR"),
              jsonOption])

let showVerb = Verb(showSpec) { args in
    let node = try openNode(args, spec: showSpec)
    let id = args.positionals[0]
    guard let m = try node.store.message(id: id), let envelope = try node.store.envelope(id: id),
          let letter = decodeLetter(m.header) else {
        throw NodeError.data("no letter \(id) in \(node.directory)")
    }
    // Verify again now, against the topology as it is today.
    let signature: String
    if let key = node.topology.publicKey(ofAgency: envelope.signerID) {
        do { try envelope.verify(with: key); signature = "valid" } catch { signature = "INVALID: \(error)" }
    } else {
        signature = "unknown: no key for '\(envelope.signerID)' in the topology"
    }
    if let dir = args.value("save-attachments") {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (info, data) in zip(letter.attachments, envelope.attachments) {
            try data.write(to: URL(fileURLWithPath: dir).appendingPathComponent(info.name))
        }
    }
    let deliveries = try node.store.deliveries(id: id)
    if args.flag("json") {
        var o = letterJSON(letter, status: m.state)
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
