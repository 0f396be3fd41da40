import AgencyBus
import Foundation

let searchSpec = CommandSpec(
    tool: "bus-cli", name: "search",
    abstract: "Full-text search over letters, dispositions and text attachments, best match first.",
    discussion: """
    Searches subject, body, number, sender, disposition and status notes, and the text of
    text attachments (text/plain, text/csv, text/markdown, text/html, application/json,
    application/xml). Case and diacritics are ignored (pelayanan = Pelayanan = PÉLAYANAN);
    words are not stemmed, so 'layanan' does not find 'pelayanan': use layan* for endings.
    Plain words all have to match; "a phrase", AND, OR, NOT, prefix*, and column:word
    (subject, body, number, sender, notes, attachments) work as in SQLite FTS5.
    Each hit names its letter (id) and the item that matched.
    """,
    arguments: [ArgumentSpec("QUERY", help: "Words to find")],
    options: [
        nodeOption,
        OptionSpec("from", value: "ID", help: "Only items sent by this agency (or agency/unit)"),
        OptionSpec("since", value: "YYYY-MM-DD", help: "Only items stored here on or after this day (agency zone)"),
        OptionSpec("classification", value: "C", help: "Only letters of this classification (biasa, terbatas, rahasia, sangat-rahasia)"),
        OptionSpec("limit", value: "N", help: "At most N hits (default 20, at most 10000)"),
        jsonOption,
    ])

let searchVerb = Verb(searchSpec) { args in
    let query = args.positionals[0]
    guard !query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
        throw UsageError("QUERY is empty; give the words to find", spec: searchSpec)
    }
    var filter = NodeStore.SearchFilter()
    if let l = args.value("limit") {
        guard let v = Int(l), v > 0, v <= 10_000 else { throw UsageError("--limit must be a number from 1 to 10000, got '\(l)'", spec: searchSpec) }
        filter.limit = v
    }
    if let from = args.value("from") {
        do { filter.from = try Address(parsing: from).description } catch let e as ValidationError {
            throw NodeError.data("--from: \(e.reason)")
        }
    }
    if let c = args.value("classification") { filter.classification = try Classification.parse(c, field: "--classification").rawValue }
    let node = try openNode(args, spec: searchSpec)
    if let since = args.value("since") {
        guard let range = node.store.calendar.range(of: since) else { throw NodeError.data("--since: '\(since)' is not a date YYYY-MM-DD") }
        filter.since = range.start
    }
    let hits = try node.store.search(query, filter: filter)
    var agenda: [String: String] = [:]
    func agendaText(_ letter: String) -> String? {
        if let known = agenda[letter] { return known.isEmpty ? nil : known }
        let text = (try? node.store.agendaNumber(messageID: letter))??.text ?? ""
        agenda[letter] = text
        return text.isEmpty ? nil : text
    }
    for hit in hits {
        let number = agendaText(hit.letterID)
        if args.flag("json") {
            var o: [String: Any] = ["id": hit.letterID, "item": hit.itemID, "kind": hit.kind, "from": hit.sender,
                                    "subject": hit.subject, "classification": hit.classification,
                                    "storedAt": hit.storedAt.text, "snippet": hit.snippet, "rank": hit.rank]
            if let number { o["agendaNumber"] = number }
            Output.json(o)
        } else {
            let item = hit.kind == "letter" ? "" : "  (\(hit.kind) \(hit.itemID))"
            Output.line("\(number ?? "-")  \(hit.letterID)  \(node.store.calendar.day(of: hit.storedAt))  \(hit.sender)  \(hit.subject)\(item)")
            Output.line("    \(TextTable.clip(hit.snippet, 200))")
        }
    }
    if hits.isEmpty && !args.flag("json") { printErr("(no matches)") }
    return ExitCode.ok
}
