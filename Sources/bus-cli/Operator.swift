import AgencyBus
import Foundation

// Shared by the operator verbs (stats, tail, watch).

let operatorOption = OptionSpec("operator", value: "DIR", help: "(required) The operator directory (made by 'bus-cli init --operator'; or set AGENCYBUS_OPERATOR)")
let brokerOption = OptionSpec("broker", value: "ID", help: "The broker to ask (default: the topology's only broker)")

/// The operator directory from --operator or AGENCYBUS_OPERATOR.
func operatorDirectory(_ args: ParsedArguments, spec: CommandSpec) throws -> String {
    if let dir = args.value("operator") { return dir }
    if let dir = ProcessInfo.processInfo.environment["AGENCYBUS_OPERATOR"], !dir.isEmpty { return dir }
    throw UsageError("missing required option '--operator <DIR>' (or set AGENCYBUS_OPERATOR)", spec: spec)
}

func openOperator(_ args: ParsedArguments, spec: CommandSpec) throws -> OperatorClient {
    try OperatorClient(directory: try operatorDirectory(args, spec: spec), logger: try cliLogger(args, spec: spec))
}

/// Colour only on a TTY and never with NO_COLOR.
var stdoutWantsColour: Bool {
    isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
}
