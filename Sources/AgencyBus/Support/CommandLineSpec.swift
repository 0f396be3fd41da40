// Declarative description of a command line: the options, positional arguments
// and help text of one command (`bus-cli send`, `bus-broker`, ...).
//
// The scanner that interprets argv against a spec lives in CommandLineParser.swift.
// Rendering follows the look of swift-argument-parser (OVERVIEW / USAGE /
// ARGUMENTS / OPTIONS) without depending on it.

/// One named option of a command: either a flag (`--json`) or an option taking a
/// value (`--node <DIR>`).
///
/// `--help` / `-h` is implicit for every command and must not be listed.
public struct OptionSpec: Sendable {
    /// Long name without dashes, e.g. `"node"` for `--node`.
    public var name: String
    /// Optional one-character short name, e.g. `"n"` for `-n`.
    public var short: Character?
    /// Placeholder for the value, e.g. `"DIR"` (rendered `<DIR>`). `nil` makes the option a flag.
    public var valueName: String?
    /// One-line help. Starting it with `"(required)"` drops the brackets in the usage line
    /// (the parser still does not enforce it; see `CommandLineParser.required(_:in:spec:)`).
    public var help: String
    /// Whether the option may be given more than once; values accumulate in order.
    public var repeatable: Bool

    /// Creates an option.
    /// - Parameters:
    ///   - name: long name without dashes.
    ///   - short: optional short name.
    ///   - value: value placeholder (`"DIR"`; surrounding `<` `>` are tolerated); `nil` for a flag.
    ///   - help: help text.
    ///   - repeatable: whether the option may appear more than once.
    public init(_ name: String, short: Character? = nil, value: String? = nil, help: String, repeatable: Bool = false) {
        self.name = name
        self.short = short
        self.valueName = value.map(OptionSpec.stripAngleBrackets)
        self.help = help
        self.repeatable = repeatable
    }

    /// `true` when the option takes no value.
    var isFlag: Bool { valueName == nil }

    /// `true` when the help text marks the option as required.
    var isMarkedRequired: Bool { help.hasPrefix("(required)") }

    /// `--node <DIR>` or `--json`.
    var longDisplay: String {
        if let valueName { return "--\(name) <\(valueName)>" }
        return "--\(name)"
    }

    /// Label in the OPTIONS section: `-n, --node <DIR>` or `--node <DIR>`.
    var helpLabel: String {
        if let short { return "-\(short), \(longDisplay)" }
        return longDisplay
    }

    /// Fragment of the usage line: `--node <DIR>`, `[--json]`, `[--attach <FILE> ...]`.
    var usageFragment: String {
        let core = repeatable ? "\(longDisplay) ..." : longDisplay
        return isMarkedRequired ? core : "[\(core)]"
    }

    private static func stripAngleBrackets(_ text: String) -> String {
        if text.count >= 2, text.hasPrefix("<"), text.hasSuffix(">") {
            return String(text.dropFirst().dropLast())
        }
        return text
    }
}

/// One positional argument of a command, e.g. `<ID>`.
public struct ArgumentSpec: Sendable {
    /// Placeholder name, e.g. `"ID"` (rendered `<ID>`).
    public var name: String
    /// One-line help.
    public var help: String
    /// Whether the argument may be omitted. Optional arguments should follow required ones.
    public var optional: Bool
    /// Whether the argument takes all remaining positionals. Only meaningful for the last argument.
    public var variadic: Bool

    /// Creates a positional argument.
    public init(_ name: String, help: String, optional: Bool = false, variadic: Bool = false) {
        self.name = name
        self.help = help
        self.optional = optional
        self.variadic = variadic
    }

    /// Label in the ARGUMENTS section: `<ID>`.
    var helpLabel: String { "<\(name)>" }

    /// Fragment of the usage line: `<ID>`, `[<ID>]`, `<ID> ...`, `[<ID> ...]`.
    var usageFragment: String {
        let core = variadic ? "<\(name)> ..." : "<\(name)>"
        return optional ? "[\(core)]" : core
    }
}

/// The full description of one command: tool, verb, help text, positionals and options.
public struct CommandSpec: Sendable {
    /// Executable name, e.g. `"bus-cli"` or `"bus-broker"`.
    public var tool: String
    /// Verb, e.g. `"send"`; `nil` for a tool without verbs.
    public var name: String?
    /// One-line summary shown after `OVERVIEW:`.
    public var abstract: String
    /// Optional paragraph(s) shown after the abstract.
    public var discussion: String?
    /// Positional arguments, in order.
    public var arguments: [ArgumentSpec]
    /// Options, in display order. `--help`/`-h` is implicit.
    public var options: [OptionSpec]

    /// Creates a command description.
    public init(
        tool: String,
        name: String? = nil,
        abstract: String,
        discussion: String? = nil,
        arguments: [ArgumentSpec] = [],
        options: [OptionSpec] = []
    ) {
        self.tool = tool
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments
        self.options = options
    }

    /// `"bus-cli send"` or `"bus-broker"`.
    var commandPath: String {
        if let name { return "\(tool) \(name)" }
        return tool
    }

    /// Short name of the implicit help option: `h`, unless the spec claims `-h` for itself.
    var helpShort: Character? {
        options.contains(where: { $0.short == "h" }) ? nil : "h"
    }

    /// Finds an option by long name.
    func option(named name: String) -> OptionSpec? {
        options.first(where: { $0.name == name })
    }

    /// Finds an option by short name.
    func option(short: Character) -> OptionSpec? {
        options.first(where: { $0.short == short })
    }

    /// One-line synopsis: tool, verb, options (declaration order), then positionals, e.g.
    /// `bus-cli send --node <DIR> --to <ID> [--cc <ID> ...] [--json] <BODY>`.
    /// The implicit `--help` is not shown.
    public var usageLine: String {
        var parts = [commandPath]
        parts += options.map(\.usageFragment)
        parts += arguments.map(\.usageFragment)
        return parts.joined(separator: " ")
    }

    /// Full help in the style of swift-argument-parser. No trailing newline.
    ///
    /// Labels in ARGUMENTS and OPTIONS share one column width: at least 24 characters,
    /// more if a label needs it, always leaving a gap of at least two spaces.
    public func helpText() -> String {
        var optionRows = options.map { ($0.helpLabel, $0.help) }
        let helpLabel = helpShort.map { "-\($0), --help" } ?? "--help"
        optionRows.append((helpLabel, "Show help information."))
        let argumentRows = arguments.map { ($0.helpLabel, $0.help) }

        let longest = (optionRows + argumentRows).map(\.0.count).max() ?? 0
        let width = max(24, longest + 2)

        func render(_ rows: [(String, String)]) -> [String] {
            rows.map { label, help in
                let gap = String(repeating: " ", count: max(2, width - label.count))
                let line = "  " + label + gap + help
                return String(line.reversed().drop(while: { $0 == " " }).reversed())
            }
        }

        var blocks: [String] = []
        let abstract = abstract.trimmedForHelp
        if !abstract.isEmpty { blocks.append("OVERVIEW: \(abstract)") }
        if let discussion = discussion?.trimmedForHelp, !discussion.isEmpty { blocks.append(discussion) }
        blocks.append("USAGE: \(usageLine)")
        if !argumentRows.isEmpty {
            blocks.append((["ARGUMENTS:"] + render(argumentRows)).joined(separator: "\n"))
        }
        blocks.append((["OPTIONS:"] + render(optionRows)).joined(separator: "\n"))
        return blocks.joined(separator: "\n\n")
    }
}

private extension String {
    /// Drops leading and trailing newlines/spaces without importing Foundation.
    var trimmedForHelp: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        return String(String(drop(while: isBlank).reversed()).drop(while: isBlank).reversed())
    }
}
