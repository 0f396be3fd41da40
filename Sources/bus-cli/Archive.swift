import AgencyBus
import Foundation

// `bus-cli archive <export|verify|prune|retention>`: a verb with sub-verbs. main.swift asks
// `ArchiveCommand.dispatch` first; each sub-verb is an ordinary `Verb` with its own spec, so
// options, errors and `--help` behave as for any other verb.

let archiveExportSpec = CommandSpec(
    tool: "bus-cli", name: "archive export",
    abstract: "Write the archive of one year to a single self-contained, verifiable file.",
    discussion: """
    The file holds the letters with an agenda number of YEAR, their dispositions and status
    history, attachments, signatures, the broker's acceptances and the recipients' receipts,
    the public keys of every signer, and a manifest with the SHA-256 of every line (format:
    docs/registry.md). It is checked after writing; only an intact file is kept and recorded
    in the node, which is what lets 'archive prune' remove those letters later.
    Prints the file's SHA-256: keep it with the file.
    """,
    options: [
        nodeOption,
        OptionSpec("year", value: "YYYY", help: "(required) The year of the agenda numbers to export"),
        OptionSpec("out", value: "FILE", help: "(required) The archive file to write (never overwritten without --force)"),
        OptionSpec("force", help: "Replace FILE if it exists"),
        jsonOption, verboseOption,
    ])

let archiveExportVerb = Verb(archiveExportSpec) { args in
    let yearText = try CommandLineParser.required("year", in: args, spec: archiveExportSpec)
    guard let year = Int(yearText), (1970...9999).contains(year) else {
        throw UsageError("--year must be a year like 2026, got '\(yearText)'", spec: archiveExportSpec)
    }
    let out = try CommandLineParser.required("out", in: args, spec: archiveExportSpec)
    let node = try openNode(args, spec: archiveExportSpec)
    let s = try ArchiveWriter(node: node).export(year: year, to: out, overwrite: args.flag("force"))
    if args.flag("json") {
        Output.json(["file": s.path, "year": s.year, "letters": s.letters, "messages": s.messages, "evidence": s.evidence,
                     "keys": s.keys, "bytes": s.bytes, "sha256": s.fileSHA256, "manifestSha256": s.manifestSHA256, "verified": true])
    } else {
        Output.line("\(s.fileSHA256)  \(s.path)")
        printErr("archived \(s.year): \(s.letters) letter(s), \(s.messages) message(s), \(s.evidence) evidence, \(s.keys) key(s), \(s.bytes) bytes; verified")
    }
    return ExitCode.ok
}

let archiveVerifySpec = CommandSpec(
    tool: "bus-cli", name: "archive verify",
    abstract: "Check an archive file offline: every signature, attachment and hash. Exit 0 intact, 65 damaged.",
    discussion: """
    Needs nothing but the file: the public keys are inside it. Every problem is printed with
    its line, the item (message id and kind, evidence, key, manifest) and the check that
    failed. With --topology, each key in the file must also be the key that topology lists
    for that signer. With --node, an intact file that this node exported is recorded as
    verified (which 'archive prune' requires).
    """,
    arguments: [ArgumentSpec("FILE", help: "The archive file")],
    options: [
        OptionSpec("topology", value: "FILE", help: "Also require the keys to be those of this topology"),
        OptionSpec("node", value: "DIR", help: "Record a successful check in this node (the exporting node)"),
        jsonOption, verboseOption,
    ])

let archiveVerifyVerb = Verb(archiveVerifySpec) { args in
    let file = args.positionals[0]
    guard FileManager.default.isReadableFile(atPath: file) else { throw NodeError.data("cannot read the archive '\(file)' (does it exist?)") }
    var trusted: ((String, String) -> Set<String>)?
    if let path = args.value("topology") {
        let topology = try Topology.load(path: path)
        trusted = { role, id in
            // The current key and, for an agency, the keys it rotated out (formerKeys).
            let current = role == "broker" ? topology.broker(id)?.publicKey : topology.agency(id)?.publicKey
            let former = role == "broker" ? [] : (topology.agency(id)?.formerKeys ?? []).map(\.publicKey)
            return Set(([current].compactMap { $0 } + former).filter { !$0.isEmpty })
        }
    }
    let r = try ArchiveVerifier.verify(path: file, trusted: trusted)
    let json = args.flag("json")
    for p in r.problems {
        if json {
            var o: [String: Any] = ["item": p.item, "check": p.check, "detail": p.detail]
            if let l = p.line { o["line"] = l }
            Output.json(o)
        } else {
            Output.line("DAMAGED \(p)")
        }
    }
    var summary: [String: Any] = ["file": file, "intact": r.intact, "problems": r.problems.count, "letters": r.letters,
                                  "messages": r.messages, "evidence": r.evidence, "keys": r.keys.count, "lines": r.lines,
                                  "sha256": r.fileSHA256]
    if let a = r.agency { summary["agency"] = a }
    if let y = r.year { summary["year"] = y }
    if let m = r.manifestSHA256 { summary["manifestSha256"] = m }
    if json {
        Output.json(summary)
    } else if r.intact {
        Output.line("intact: \(file): \(r.agency ?? "?") \(r.year.map(String.init) ?? "?"): \(r.letters) letter(s), \(r.messages) message(s), \(r.evidence) evidence, sha256 \(r.fileSHA256)")
        for k in r.keys { Output.line("key \(k.role) \(k.id) \(k.publicKey)") }
    }
    if r.intact, args.has("node") {
        let node = try openNode(args, spec: archiveVerifySpec)
        if try node.store.markExportVerified(fileSHA256: r.fileSHA256) == 0 {
            printErr("warning: \(node.directory) has no record of exporting this file (sha256 \(r.fileSHA256)); nothing recorded")
        }
    }
    guard r.intact else {
        printErr("Error: \(file) is damaged: \(r.problems.count) problem(s), first: \(r.problems[0])")
        return ExitCode.data
    }
    return ExitCode.ok
}

let archivePruneSpec = CommandSpec(
    tool: "bus-cli", name: "archive prune",
    abstract: "Remove from the live inbox the letters that are archived, verified, closed and past retention.",
    discussion: """
    A letter goes only when it and everything of its tree (dispositions, status updates) are
    in an archive that verified, it is closed (every disposition holder reported done; a
    letter without dispositions closes on its own date), and its retention (archive
    retention) has passed. Nothing that was never exported is deleted. The agenda keeps its
    lines. Prints each letter removed; --dry-run only says what would go.
    """,
    options: [nodeOption, OptionSpec("dry-run", help: "Show what would be removed; change nothing"), jsonOption, verboseOption])

let archivePruneVerb = Verb(archivePruneSpec) { args in
    let node = try openNode(args, spec: archivePruneSpec)
    let retention = try Retention.load(directory: node.directory).retention
    let dryRun = args.flag("dry-run")
    let outcome = try ArchivePruner.run(store: node.store, retention: retention, dryRun: dryRun)
    for d in outcome.decisions {
        if args.flag("json") {
            var o: [String: Any] = ["id": d.letterID, "action": d.prune ? (dryRun ? "would-prune" : "pruned") : "kept",
                                    "classification": d.classification, "messages": d.messages, "reason": d.reason]
            if let n = d.agendaNumber { o["agendaNumber"] = n.text }
            if let c = d.closedOn { o["closedOn"] = c }
            if let u = d.keepUntil { o["keepUntil"] = u }
            Output.json(o)
        } else if d.prune {
            Output.line("\(dryRun ? "would prune" : "pruned")  \(d.agendaNumber?.text ?? "-")  \(d.letterID)  \(d.messages) message(s)  \(d.reason)")
        }
    }
    let pruned = outcome.pruned
    let kept = outcome.decisions.count - pruned.count
    printErr("\(dryRun ? "would prune" : "pruned") \(pruned.count) letter(s) (\(pruned.map(\.messages).reduce(0, +)) message(s)); "
             + "kept \(kept) archived letter(s) (closed-and-retained or open); \(outcome.notExported) letter(s) not in a verified archive, untouched")
    return ExitCode.ok
}

let archiveRetentionSpec = CommandSpec(
    tool: "bus-cli", name: "archive retention",
    abstract: "Show or set how many years letters stay in the live inbox after closing, by classification.",
    discussion: """
    Kept in DIR/retention.json. Defaults: biasa=2, terbatas=5, rahasia=10, sangat-rahasia=25.
    --set changes the classifications it names and keeps the others.
    """,
    options: [nodeOption, OptionSpec("set", value: "C=YEARS[,...]", help: "e.g. biasa=2,terbatas=5"), jsonOption])

let archiveRetentionVerb = Verb(archiveRetentionSpec) { args in
    let dir = try nodeDirectory(args, spec: archiveRetentionSpec)
    _ = try NodeConfig.load(directory: dir)  // a node directory, not any directory
    var (retention, fromFile) = try Retention.load(directory: dir)
    if let set = args.value("set") {
        retention = try retention.setting(set)
        try retention.write(directory: dir)
        fromFile = true
    }
    let order = Classification.allCases.map(\.rawValue)
    if args.flag("json") {
        Output.json(["years": retention.years, "file": Retention.path(in: dir), "source": fromFile ? "file" : "defaults"])
    } else {
        for c in order { Output.line("\(c.padding(toLength: 15, withPad: " ", startingAt: 0)) \(retention.years(for: c)) year(s)") }
        if !fromFile { printErr("(defaults: no \(Retention.path(in: dir)) yet)") }
    }
    return ExitCode.ok
}

let archiveSpec = CommandSpec(
    tool: "bus-cli", name: "archive",
    abstract: "Export, verify and prune the archive (arsip); set retention.",
    discussion: """
    Sub-commands:
      export     --node DIR --year YYYY --out FILE   write and check the archive of a year
      verify     FILE                                 check an archive offline (exit 0 / 65)
      prune      --node DIR [--dry-run]               remove archived letters past retention
      retention  --node DIR [--set biasa=2,...]       show or set the retention years
    See 'bus-cli archive <sub-command> --help'.
    """,
    arguments: [ArgumentSpec("SUBCOMMAND", help: "export, verify, prune or retention")])

/// Reached only for a sub-command that does not exist (known ones are dispatched first).
let archiveVerb = Verb(archiveSpec) { args in
    let word = args.positionals[0]
    let hint = CommandLineParser.suggest(word, among: ArchiveCommand.names).map { " (did you mean '\($0)'?)" } ?? ""
    throw UsageError("unknown archive sub-command '\(word)'\(hint)", spec: archiveSpec)
}

enum ArchiveCommand {
    static let verbs: [Verb] = [archiveExportVerb, archiveVerifyVerb, archivePruneVerb, archiveRetentionVerb]
    static let names = ["export", "verify", "prune", "retention"]

    static func verb(_ name: String) -> Verb? { verbs.first { $0.spec.name == "archive \(name)" } }

    /// Runs `archive <sub> …` and `help archive <sub>`; nil for anything else.
    static func dispatch(_ arguments: [String]) -> Int32? {
        if arguments.count >= 2, arguments[0] == "archive", let v = verb(arguments[1]) {
            return CommandRunner.run(v, Array(arguments.dropFirst(2)))
        }
        if arguments.count >= 3, arguments[0] == "help", arguments[1] == "archive", let v = verb(arguments[2]) {
            print(v.spec.helpText())
            return ExitCode.ok
        }
        return nil
    }
}
