import AgencyBus
import Foundation

// bus-broker: argv → options → run → exit code. All logic lives in the AgencyBus library.

let logOptions = [
    OptionSpec("log-format", value: "FORMAT", help: "logfmt (default) or json"),
    OptionSpec("log-level", value: "LEVEL", help: "debug, info (default), warning or error"),
]

func makeLogger(_ args: ParsedArguments, spec: CommandSpec) throws -> Logger {
    let format = Logger.Format(rawValue: args.value("log-format") ?? "logfmt")
    guard let format else { throw UsageError("--log-format must be logfmt or json", spec: spec) }
    let levels: [String: Logger.Level] = ["debug": .debug, "info": .info, "warning": .warning, "error": .error]
    guard let level = levels[args.value("log-level") ?? "info"] else {
        throw UsageError("--log-level must be debug, info, warning or error", spec: spec)
    }
    return Logger(label: "bus-broker", minimum: level, format: format)
}

let runSpec = CommandSpec(
    tool: "bus-broker", name: nil,
    abstract: "Relay signed letters between agency nodes (ZeroMQ ROUTER, CURVE, durable SQLite queue).",
    discussion: """
    Also: 'bus-broker keygen --data DIR' makes the broker's key; 'bus-broker set-topology' edits
    a topology entry (see 'bus-broker set-topology --help').
    """,
    options: [
        OptionSpec("topology", value: "FILE", help: "(required) The topology file"),
        OptionSpec("broker", value: "ID", help: "(required unless --check) This broker's id in the topology"),
        OptionSpec("data", value: "DIR", help: "(required unless --check) Directory with broker.key and queue.sqlite"),
        OptionSpec("bind", value: "ENDPOINT", help: "Listen here instead of the topology's endpoint (e.g. tcp://127.0.0.1:*)"),
        OptionSpec("ready-file", value: "FILE", help: "Write the bound endpoint to FILE once ready"),
        OptionSpec("check", help: "Validate the topology, print what is wrong, and exit"),
        OptionSpec("metrics", value: "HOST:PORT", help: "Serve Prometheus metrics at http://HOST:PORT/metrics (loopback, e.g. 127.0.0.1:9464)"),
        OptionSpec("metrics-allow-remote", help: "Allow --metrics on a non-loopback address"),
        OptionSpec("metrics-ready-file", value: "FILE", help: "Write the bound metrics HOST:PORT to FILE (with --metrics HOST:0)"),
    ] + logOptions)

let keygenSpec = CommandSpec(
    tool: "bus-broker", name: "keygen",
    abstract: "Create the broker's identity key (0600) and print its public key.",
    discussion: "The only line on stdout is the public key, in the form the topology's publicKey takes.",
    options: [OptionSpec("data", value: "DIR", help: "(required) The broker's data directory (created 0700)")])

let setSpec = CommandSpec(
    tool: "bus-broker", name: "set-topology",
    abstract: "Set a public key or an endpoint in a topology file (what ops paste by hand, scripted).",
    discussion: """
    --add creates the entry first (an agency with --name, no units; edit the file to add units).
    Replacing an agency's key keeps the old one under "formerKeys" with the time it was
    retired, so letters it signed before stay verifiable (a rotation, see 'bus-cli rekey');
    --compromised drops it instead. Reload the broker afterwards: kill -HUP <pid>.
    """,
    options: [
        OptionSpec("topology", value: "FILE", help: "(required) The topology file to edit"),
        OptionSpec("agency", value: "ID", help: "The agency entry to edit"),
        OptionSpec("broker", value: "ID", help: "The broker entry to edit"),
        OptionSpec("operator", value: "ID", help: "The operator entry to edit"),
        OptionSpec("public-key", value: "KEY", help: "The new publicKey (as printed by keygen / init / rekey)"),
        OptionSpec("endpoint", value: "ENDPOINT", help: "The new endpoint (brokers only)"),
        OptionSpec("add", help: "Add the --agency or --operator entry (agencies need --name; they use the only broker unless --agency-broker)"),
        OptionSpec("name", value: "TEXT", help: "With --add --agency: the agency's full name"),
        OptionSpec("agency-broker", value: "ID", help: "With --add --agency: its broker (default: the topology's only broker)"),
        OptionSpec("revoke", help: "Mark the agency or operator revoked: refused from the next reload on; its key stays for old signatures"),
        OptionSpec("compromised", help: "With --agency and --public-key: drop the old key instead of keeping it under formerKeys"),
    ])

func runBroker(_ args: ParsedArguments) throws -> Int32 {
    let topologyPath = try CommandLineParser.required("topology", in: args, spec: runSpec)
    if args.flag("check") {
        let topology = try Topology.load(path: topologyPath)
        let missing = topology.agencies.filter { $0.publicKey.isEmpty }.map(\.id)
        print("topology \(topologyPath) is valid: \(topology.brokers.count) broker(s), \(topology.agencies.count) agencies, \(topology.operators.count) operator(s)")
        if !missing.isEmpty { printErr("note: no publicKey yet for: \(missing.joined(separator: ", ")) (they cannot connect until one is added)") }
        return ExitCode.ok
    }
    var config = BrokerConfig(topologyPath: topologyPath,
                              brokerID: try CommandLineParser.required("broker", in: args, spec: runSpec),
                              dataDirectory: try CommandLineParser.required("data", in: args, spec: runSpec))
    config.bindEndpoint = args.value("bind")
    config.readyFile = args.value("ready-file")
    let log = try makeLogger(args, spec: runSpec)
    let metrics = try metricsServer(args)
    StopSignal.install()
    StopSignal.installReload()
    let broker = try Broker(config: config, logger: log)
    if let metrics {
        broker.enableMetrics(metrics)
        if let file = args.value("metrics-ready-file") { try (metrics.boundAddress + "\n").write(toFile: file, atomically: true, encoding: .utf8) }
    }
    try broker.run(shouldStop: { StopSignal.requested }, shouldReload: { StopSignal.takeReloadRequest() })
    return ExitCode.ok
}

/// The metrics listener of --metrics, bound before the broker starts so that a wrong address
/// (usage, exit 64) or a taken port (exit 78) changes nothing.
func metricsServer(_ args: ParsedArguments) throws -> MetricsServer? {
    guard let address = args.value("metrics") else {
        if args.flag("metrics-allow-remote") || args.has("metrics-ready-file") {
            throw UsageError("--metrics-allow-remote and --metrics-ready-file go with --metrics HOST:PORT", spec: runSpec)
        }
        return nil
    }
    do {
        return try MetricsServer(address: address, allowRemote: args.flag("metrics-allow-remote"))
    } catch let e as MetricsServerError {
        if e.isUsage { throw UsageError(e.description, spec: runSpec) }
        throw BrokerStartError(e.description)
    }
}

func runKeygen(_ args: ParsedArguments) throws -> Int32 {
    let dir = try CommandLineParser.required("data", in: args, spec: keygenSpec)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let key = SecretKey.generate()
    try KeyFile.create(key, at: BrokerConfig.keyPath(dataDirectory: dir))
    print(key.publicKey.text)
    return ExitCode.ok
}

func runSet(_ args: ParsedArguments) throws -> Int32 {
    let path = try CommandLineParser.required("topology", in: args, spec: setSpec)
    var topology = try Topology.load(path: path)
    if let k = args.value("public-key") { _ = try PublicKey(text: k) }
    let key = args.value("public-key")
    if args.flag("compromised") && (args.value("agency") == nil || key == nil) {
        throw UsageError("--compromised goes with --agency ID --public-key KEY", spec: setSpec)
    }
    if args.flag("revoke") && args.value("agency") == nil && args.value("operator") == nil {
        throw UsageError("--revoke goes with --agency ID or --operator ID", spec: setSpec)
    }
    if args.flag("add") {
        if let id = args.value("agency") {
            guard topology.agency(id) == nil else { throw NodeError.data("--add: agency '\(id)' is already in \(path)") }
            guard let name = args.value("name"), !name.isEmpty else { throw UsageError("--add --agency needs --name \"<full name>\"", spec: setSpec) }
            let broker = try args.value("agency-broker") ?? {
                guard topology.brokers.count == 1 else { throw UsageError("--add --agency: name its broker with --agency-broker ID", spec: setSpec) }
                return topology.brokers[0].id
            }()
            topology.agencies.append(.init(id: id, name: name, broker: broker, publicKey: "", units: []))
        } else if let id = args.value("operator") {
            guard topology.operator(id) == nil else { throw NodeError.data("--add: operator '\(id)' is already in \(path)") }
            topology.operators.append(.init(id: id, publicKey: ""))
        } else {
            throw UsageError("--add goes with --agency ID --name TEXT or --operator ID", spec: setSpec)
        }
    }
    func missing(_ what: String, _ id: String) -> NodeError {
        NodeError.data("no \(what) '\(id)' in \(path); add it with: bus-broker set-topology --topology \(path) --add --\(what) \(id)\(what == "agency" ? " --name \"…\"" : "")")
    }
    if let id = args.value("agency") {
        guard let i = topology.agencies.firstIndex(where: { $0.id == id }) else { throw missing("agency", id) }
        let old = topology.agencies[i].publicKey
        if let key, key != old {
            if !old.isEmpty && !args.flag("compromised") {
                topology.agencies[i].formerKeys = (topology.agencies[i].formerKeys ?? [])
                    + [Topology.FormerKey(publicKey: old, retired: Timestamp.now().text)]
            }
            topology.agencies[i].publicKey = key
        }
        if args.flag("revoke") { topology.agencies[i].revoked = true }
    } else if let id = args.value("broker") {
        guard let i = topology.brokers.firstIndex(where: { $0.id == id }) else { throw NodeError.data("no broker '\(id)' in \(path)") }
        if let key { topology.brokers[i].publicKey = key }
        if let e = args.value("endpoint") { topology.brokers[i].endpoint = e }
    } else if let id = args.value("operator") {
        guard let i = topology.operators.firstIndex(where: { $0.id == id }) else { throw missing("operator", id) }
        if let key { topology.operators[i].publicKey = key }
        if args.flag("revoke") { topology.operators[i].revoked = true }
    } else {
        throw UsageError("name the entry with --agency, --broker or --operator", spec: setSpec)
    }
    let problems = topology.problems()
    guard problems.isEmpty else { throw TopologyError(path: path, problems: problems) }
    try topology.write(path: path)
    return ExitCode.ok
}

let arguments = Array(CommandLine.arguments.dropFirst())
let code: Int32
switch arguments.first {
case "keygen": code = CommandRunner.run(Verb(keygenSpec, run: runKeygen), Array(arguments.dropFirst()))
case "set-topology": code = CommandRunner.run(Verb(setSpec, run: runSet), Array(arguments.dropFirst()))
default: code = CommandRunner.run(Verb(runSpec, run: runBroker), arguments)
}
exit(code)
