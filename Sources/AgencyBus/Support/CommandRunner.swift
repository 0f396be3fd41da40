import Foundation

/// One verb of a tool: its spec (help, options) and what it runs. `run` returns the exit code.
public struct Verb: Sendable {
    public let spec: CommandSpec
    public let run: @Sendable (ParsedArguments) throws -> Int32
    public init(_ spec: CommandSpec, run: @escaping @Sendable (ParsedArguments) throws -> Int32) {
        self.spec = spec
        self.run = run
    }
}

/// Exit codes from sysexits.h.
public enum ExitCode {
    public static let ok: Int32 = 0
    public static let usage: Int32 = 64
    public static let data: Int32 = 65
    public static let noInput: Int32 = 66
    public static let software: Int32 = 70
    public static let ioError: Int32 = 74
    public static let unavailable: Int32 = 69
    public static let permission: Int32 = 77
    public static let config: Int32 = 78
}

/// argv → verb → options → run → exit code, with one place that turns errors into a
/// one-line reason on stderr and the matching sysexits code.
public enum CommandRunner {
    public static func main(tool: String, abstract: String, verbs: [Verb], arguments: [String]) -> Int32 {
        let names = verbs.compactMap(\.spec.name)
        func overview() -> String {
            let width = (names.map(\.count).max() ?? 0) + 2
            let list = verbs.map { "  " + ($0.spec.name ?? "").padding(toLength: width, withPad: " ", startingAt: 0) + $0.spec.abstract }
            return "OVERVIEW: \(abstract)\n\nUSAGE: \(tool) <command> [options]\n\nCOMMANDS:\n" + list.joined(separator: "\n")
                + "\n\n  See '\(tool) help <command>' for detailed help."
        }
        guard let first = arguments.first else {
            printErr(overview())
            return ExitCode.usage
        }
        if first == "-h" || first == "--help" { print(overview()); return ExitCode.ok }
        if first == "help" {
            guard arguments.count > 1 else { print(overview()); return ExitCode.ok }
            guard let verb = verbs.first(where: { $0.spec.name == arguments[1] }) else {
                printErr("Error: unknown command '\(arguments[1])'\(hint(arguments[1], names))\n  See '\(tool) --help'.")
                return ExitCode.usage
            }
            print(verb.spec.helpText())
            return ExitCode.ok
        }
        guard let verb = verbs.first(where: { $0.spec.name == first }) else {
            printErr("Error: unknown command '\(first)'\(hint(first, names))\n  See '\(tool) --help'.")
            return ExitCode.usage
        }
        return run(verb, Array(arguments.dropFirst()))
    }

    /// Parses and runs one verb, mapping every error to its exit code.
    public static func run(_ verb: Verb, _ arguments: [String]) -> Int32 {
        do {
            let parsed = try CommandLineParser.parse(arguments, spec: verb.spec)
            if parsed.helpRequested { print(verb.spec.helpText()); return ExitCode.ok }
            return try verb.run(parsed)
        } catch {
            let (code, text) = describe(error)
            printErr(text)
            return code
        }
    }

    public static func describe(_ error: Error) -> (Int32, String) {
        switch error {
        case let e as UsageError: return (ExitCode.usage, e.description)
        case let e as NodeError: return (e.exitCode, "Error: \(e.description)")
        case let e as ValidationError: return (ExitCode.data, "Error: \(e.description)")
        case let e as TopologyError: return (ExitCode.data, "Error: \(e.description)")
        case let e as KeyError:
            if case .file(_, let why) = e, why.contains("too open") { return (ExitCode.permission, "Error: \(e.description)") }
            return (ExitCode.data, "Error: \(e.description)")
        case let e as BrokerStartError: return (ExitCode.config, "Error: \(e.description)")
        case let e as SQLiteError:
            if e.isStorageFull { return (ExitCode.ioError, "Error: the disk is full (\(e.message)); free space and try again") }
            return (ExitCode.ioError, "Error: store: \(e.description)")
        case let e as ZMQError: return (ExitCode.unavailable, "Error: network: \(e.description)")
        default: return (ExitCode.software, "Error: \(error)")
        }
    }

    static func hint(_ word: String, _ names: [String]) -> String {
        CommandLineParser.suggest(word, among: names).map { " (did you mean '\($0)'?)" } ?? ""
    }
}

/// Writes a line to stderr.
public func printErr(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Stdout for data: every line is written (and so flushed) at once, also into a pipe or a file.
public enum Output {
    public static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// One JSON object per line, keys sorted so the output is stable.
    public static func json(_ object: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}
