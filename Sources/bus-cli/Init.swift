import AgencyBus
import Foundation

let initSpec = CommandSpec(
    tool: "bus-cli", name: "init",
    abstract: "Create a node directory for an agency with a new key; print its public key.",
    discussion: """
    The only line on stdout is the agency's public key, in the form the topology's publicKey
    takes: paste it into the topology (or: bus-broker set-topology --topology FILE --agency ID
    --public-key KEY). The secret key stays in DIR/node.key (mode 0600).
    """,
    options: [
        nodeOption,
        OptionSpec("agency", value: "ID", help: "(required) The agency id in the topology"),
        OptionSpec("topology", value: "FILE", help: "(required) The topology file (its path is recorded and re-read at every start)"),
    ])

let initVerb = Verb(initSpec) { args in
    let dir = try nodeDirectory(args, spec: initSpec)
    let agency = try CommandLineParser.required("agency", in: args, spec: initSpec)
    let topology = try CommandLineParser.required("topology", in: args, spec: initSpec)
    let key = try AgencyNode.initialize(directory: dir, agency: agency, topologyPath: topology)
    Output.line(key.text)
    return ExitCode.ok
}
