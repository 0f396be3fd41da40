import AgencyBus
import Foundation

let initSpec = CommandSpec(
    tool: "bus-cli", name: "init",
    abstract: "Create a node directory for an agency (or an operator directory) with a new key; print its public key.",
    discussion: """
    The only line on stdout is the new public key, in the form the topology's publicKey
    takes: paste it into the topology (or: bus-broker set-topology --topology FILE --agency ID
    --public-key KEY). The secret key stays in DIR/node.key (mode 0600).

    With --operator DIR --id ID instead of --node/--agency it makes an operator's key
    (DIR/operator.key, 0600) for 'bus-cli stats', 'tail' and 'watch'; ID must be listed under
    "operators" in the topology (bus-broker set-topology --operator ID --public-key KEY), and
    the broker admits it once it has read the topology again (kill -HUP).
    """,
    options: [
        OptionSpec("node", value: "DIR", help: "The node directory to create (with --agency; or set AGENCYBUS_NODE)"),
        OptionSpec("agency", value: "ID", help: "The agency id in the topology"),
        OptionSpec("operator", value: "DIR", help: "The operator directory to create (with --id)"),
        OptionSpec("id", value: "ID", help: "The operator id in the topology (with --operator)"),
        OptionSpec("topology", value: "FILE", help: "(required) The topology file (its path is recorded and re-read at every start)"),
    ])

let initVerb = Verb(initSpec) { args in
    if let dir = args.value("operator") {
        if args.has("node") || args.has("agency") {
            throw UsageError("--operator makes an operator directory; --node/--agency make a node: give one or the other", spec: initSpec)
        }
        guard let id = args.value("id") else { throw UsageError("missing required option '--id <ID>' (the operator id)", spec: initSpec) }
        let topology = try CommandLineParser.required("topology", in: args, spec: initSpec)
        let key = try OperatorClient.initialize(directory: dir, id: id, topologyPath: topology)
        Output.line(key.text)
        return ExitCode.ok
    }
    if args.has("id") { throw UsageError("--id goes with --operator DIR (for an agency node use --agency)", spec: initSpec) }
    let dir = try nodeDirectory(args, spec: initSpec)
    let agency = try CommandLineParser.required("agency", in: args, spec: initSpec)
    let topology = try CommandLineParser.required("topology", in: args, spec: initSpec)
    let key = try AgencyNode.initialize(directory: dir, agency: agency, topologyPath: topology)
    Output.line(key.text)
    return ExitCode.ok
}
