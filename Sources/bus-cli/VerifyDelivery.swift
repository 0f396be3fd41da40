import AgencyBus
import Foundation

let verifyDeliverySpec = CommandSpec(
    tool: "bus-cli", name: "verify-delivery",
    abstract: "Check that every accepted message reached every audited inbox exactly once, and nothing sent was lost.",
    discussion: """
    Compares the broker's store with the given nodes' outboxes and inboxes (read only; the
    broker may be running). Exit 0 when nothing is missing, duplicated or lost, 65 otherwise.
    Prints one JSON summary: accepted, delivered, pending, queued, missing, duplicated, lost.
    """,
    options: [
        OptionSpec("broker-data", value: "DIR", help: "(required) The broker's data directory (queue.sqlite)"),
        OptionSpec("node", value: "DIR", help: "(required) A node directory to audit", repeatable: true),
        OptionSpec("drained", help: "Count deliveries still pending at the broker as missing"),
    ])

let verifyDeliveryVerb = Verb(verifyDeliverySpec) { args in
    let data = try CommandLineParser.required("broker-data", in: args, spec: verifyDeliverySpec)
    let nodes = args.values("node")
    guard !nodes.isEmpty else { throw UsageError("missing required option '--node <DIR>'", spec: verifyDeliverySpec) }
    let store = data + "/queue.sqlite"
    guard FileManager.default.fileExists(atPath: store) else { throw NodeError.data("--broker-data: no queue.sqlite in \(data)") }
    let audit = try DeliveryAudit.run(brokerStore: store, nodeDirectories: nodes, drained: args.flag("drained"))
    Output.json(audit.json)
    for p in audit.problems.prefix(20) { printErr(p.description) }
    return audit.problems.isEmpty ? ExitCode.ok : ExitCode.data
}
