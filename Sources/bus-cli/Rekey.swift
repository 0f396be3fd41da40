import AgencyBus
import Foundation

let rekeySpec = CommandSpec(
    tool: "bus-cli", name: "rekey",
    abstract: "Rotate the node's identity key: make a new one and print its public key.",
    discussion: """
    The only line on stdout is the new public key. The old key is kept (0600) beside the new
    one as node.key.retired-<time>. Then ops run, on the broker's topology:
      bus-broker set-topology --topology FILE --agency ID --public-key NEW
    which keeps the old key under "formerKeys" (what it signed stays verifiable), and reload
    the broker (kill -HUP). Until then the broker does not admit the node. Letters signed with
    the old key and still in the outbox are accepted afterwards. For a stolen key, add
    --compromised to set-topology instead, so nothing it signs is trusted any more.
    """,
    options: [nodeOption])

let rekeyVerb = Verb(rekeySpec) { args in
    let dir = try nodeDirectory(args, spec: rekeySpec)
    let keys = try AgencyNode.rekey(directory: dir)
    printErr("old key \(keys.old.text) kept as \(NodeConfig.keyPath(in: dir)).retired-*; paste the new key into the topology")
    Output.line(keys.new.text)
    return ExitCode.ok
}
