// Hand-written argv scanner for the AgencyBus executables, driven by a `CommandSpec`.
//
// Accepted forms:
//   --opt value   --opt=value   -o value   -abc (bundled short flags; -abo value)
//   --            ends options; everything after it is positional
//   -             a lone dash is a positional (conventionally stdin)
//   -5            a negative number is a positional, or the value of a preceding value option

/// The result of scanning argv against a `CommandSpec`.
///
/// Options are looked up by their long name (without dashes).
public struct ParsedArguments: Sendable {
    /// Positional arguments in order (including everything after `--`).
    public var positionals: [String]
    /// `true` if `-h`/`--help` was given; nothing else has been validated in that case.
    public var helpRequested: Bool

    /// Values of value options, keyed by long name, in command-line order.
    var optionValues: [String: [String]]
    /// Occurrence counts of flags, keyed by long name.
    var flagCounts: [String: Int]

    init(
        positionals: [String] = [],
        helpRequested: Bool = false,
        optionValues: [String: [String]] = [:],
        flagCounts: [String: Int] = [:]
    ) {
        self.positionals = positionals
        self.helpRequested = helpRequested
        self.optionValues = optionValues
        self.flagCounts = flagCounts
    }

    /// The last value given for a value option, or `nil` if it was not given.
    public func value(_ name: String) -> String? {
        optionValues[name]?.last
    }

    /// All values given for a (repeatable) value option, in order; empty if not given.
    public func values(_ name: String) -> [String] {
        optionValues[name] ?? []
    }

    /// Whether a flag was given.
    public func flag(_ name: String) -> Bool {
        (flagCounts[name] ?? 0) > 0
    }

    /// Whether an option (flag or value option) was given at all.
    public func has(_ name: String) -> Bool {
        flag(name) || !(optionValues[name]?.isEmpty ?? true)
    }

    /// How many times an option (flag or value option) was given.
    func count(_ name: String) -> Int {
        (flagCounts[name] ?? 0) + (optionValues[name]?.count ?? 0)
    }
}

/// A command-line mistake by the user. Callers print `description` to stderr and exit 64 (EX_USAGE).
public struct UsageError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, without the `Error: ` prefix, e.g. `unknown option '--nod' (did you mean '--node'?)`.
    public var message: String
    /// The command whose usage is shown.
    public var spec: CommandSpec

    /// Creates a usage error for `spec`.
    public init(_ message: String, spec: CommandSpec) {
        self.message = message
        self.spec = spec
    }

    /// Three lines, no trailing newline:
    /// ```
    /// Error: <message>
    /// Usage: <usage line>
    ///   See '<tool> <verb> --help'.
    /// ```
    public var description: String {
        """
        Error: \(message)
        Usage: \(spec.usageLine)
          See '\(spec.commandPath) --help'.
        """
    }
}

/// Scans argv against a `CommandSpec`.
public enum CommandLineParser {
    /// Parses the arguments that follow the verb (or the tool name for a tool without verbs).
    ///
    /// If `-h` or `--help` appears anywhere before `--`, returns immediately with
    /// `helpRequested == true` without validating anything else.
    /// Required options are not enforced here; see `required(_:in:spec:)`.
    /// - Throws: `UsageError` for unknown options, missing or unexpected values,
    ///   duplicated non-repeatable options, and missing or surplus positionals.
    public static func parse(_ arguments: [String], spec: CommandSpec) throws -> ParsedArguments {
        if helpRequested(in: arguments, spec: spec) {
            return ParsedArguments(helpRequested: true)
        }
        var scanner = Scanner(arguments: arguments, spec: spec)
        return try scanner.run()
    }

    /// The value of an option the command cannot do without.
    /// - Throws: `UsageError("missing required option '--node <DIR>'")` if it was not given.
    public static func required(_ name: String, in parsed: ParsedArguments, spec: CommandSpec) throws -> String {
        if let value = parsed.value(name) { return value }
        let display = spec.option(named: name)?.longDisplay ?? "--\(name)"
        throw UsageError("missing required option '\(display)'", spec: spec)
    }

    /// The candidate closest to `word` (Levenshtein distance <= 2, or `word` is a prefix of it),
    /// for "did you mean" hints; `nil` if nothing is close. Case-insensitive; ties go to the
    /// earlier candidate.
    public static func suggest(_ word: String, among candidates: [String]) -> String? {
        let needle = word.lowercased()
        guard !needle.isEmpty else { return nil }
        var best: (candidate: String, score: Int)?
        for candidate in candidates {
            let hay = candidate.lowercased()
            guard hay != needle else { return candidate }
            let distance = levenshtein(needle, hay)
            // A distance equal to the longer length means nothing matched at all ("x" vs "cc").
            let close = distance <= 2 && distance < max(needle.count, hay.count)
            let prefix = hay.hasPrefix(needle)
            guard close || prefix else { continue }
            // Prefix matches rank like a distance-1 typo at worst.
            let score = prefix ? min(distance, 1) : distance
            if score < (best?.score ?? Int.max) {
                best = (candidate, score)
            }
        }
        return best?.candidate
    }

    // MARK: - Internals

    /// Pre-scan for `--help` / `-h` before `--`.
    static func helpRequested(in arguments: [String], spec: CommandSpec) -> Bool {
        let short = spec.helpShort.map { "-\($0)" }
        for token in arguments {
            if token == "--" { return false }
            if token == "--help" || token == short { return true }
        }
        return false
    }

    /// `-5`, `-0.25`, `-.5`: looks like a negative number rather than an option.
    static func isNegativeNumber(_ token: String) -> Bool {
        guard token.hasPrefix("-") else { return false }
        let body = token.dropFirst()
        guard let first = body.first else { return false }
        let digits = first == "." ? body.dropFirst() : body
        guard let lead = digits.first, lead.isASCII, lead.isNumber else { return false }
        var sawDot = first == "."
        for c in digits {
            if c == "." {
                if sawDot { return false }
                sawDot = true
            } else if !(c.isASCII && c.isNumber) {
                return false
            }
        }
        return true
    }

    /// Whether `token` would be read as an option (and therefore cannot be an option's value).
    static func looksLikeOption(_ token: String) -> Bool {
        token.hasPrefix("-") && token != "-" && !isNegativeNumber(token)
    }

    /// Mutable state of one parse.
    private struct Scanner {
        let arguments: [String]
        let spec: CommandSpec
        var index = 0
        var result = ParsedArguments()

        init(arguments: [String], spec: CommandSpec) {
            self.arguments = arguments
            self.spec = spec
        }

        mutating func run() throws -> ParsedArguments {
            while index < arguments.count {
                let token = arguments[index]
                index += 1
                if token == "--" {
                    result.positionals += arguments[index...]
                    break
                } else if token.hasPrefix("--") {
                    try longOption(token)
                } else if CommandLineParser.looksLikeOption(token) {
                    if try shortCluster(token) { return result }
                } else {
                    result.positionals.append(token)
                }
            }
            try checkPositionals()
            return result
        }

        func error(_ message: String) -> UsageError {
            UsageError(message, spec: spec)
        }

        /// `--name`, `--name value`, `--name=value`.
        mutating func longOption(_ token: String) throws {
            let body = token.dropFirst(2)
            let name: String
            let inline: String?
            if let eq = body.firstIndex(of: "=") {
                name = String(body[..<eq])
                inline = String(body[body.index(after: eq)...])
            } else {
                name = String(body)
                inline = nil
            }
            guard let option = spec.option(named: name) else {
                throw unknown(display: name.isEmpty ? token : "--\(name)", word: name)
            }
            if option.isFlag {
                if inline != nil {
                    throw error("option '--\(option.name)' does not take a value")
                }
                try record(option, value: nil)
            } else {
                let value = try inline ?? takeValue(for: option)
                try record(option, value: value)
            }
        }

        /// `-x`, `-x value`, `-abc` (bundled flags; only the last letter may take a value,
        /// from the next token). Returns `true` if `-h` was found inside a bundle.
        ///
        /// Values attached to a short name (`-n/dir`) are deliberately not supported, so that a
        /// long option typed with one dash (`-node`) is reported instead of silently parsed as
        /// `-n ode`.
        mutating func shortCluster(_ token: String) throws -> Bool {
            let letters = Array(token.dropFirst())
            if let help = spec.helpShort, letters.contains(help) {
                result = ParsedArguments(helpRequested: true)
                return true
            }
            var options: [OptionSpec] = []
            for (offset, letter) in letters.enumerated() {
                guard let option = spec.option(short: letter) else {
                    if offset == 0 {
                        // Probably a long option typed with one dash ("-nod").
                        throw unknown(display: token, word: String(letters))
                    }
                    throw error("unknown option '-\(letter)' in '\(token)'")
                }
                if !option.isFlag && offset != letters.count - 1 {
                    // A value option inside a bundle: most likely "-node" meant "--node".
                    throw unknown(display: token, word: String(letters))
                }
                options.append(option)
            }
            for option in options {
                let value = try option.isFlag ? nil : takeValue(for: option)
                try record(option, value: value)
            }
            return false
        }

        /// Consumes the next token as the value of `option`.
        mutating func takeValue(for option: OptionSpec) throws -> String {
            guard index < arguments.count, !CommandLineParser.looksLikeOption(arguments[index]) else {
                let placeholder = option.valueName.map { " (<\($0)>)" } ?? ""
                throw error("option '--\(option.name)' needs a value\(placeholder)")
            }
            defer { index += 1 }
            return arguments[index]
        }

        mutating func record(_ option: OptionSpec, value: String?) throws {
            if !option.repeatable && result.has(option.name) {
                throw error("option '--\(option.name)' given more than once")
            }
            if let value {
                result.optionValues[option.name, default: []].append(value)
            } else {
                result.flagCounts[option.name, default: 0] += 1
            }
        }

        func unknown(display: String, word: String) -> UsageError {
            var message = "unknown option '\(display)'"
            let names = spec.options.map(\.name) + ["help"]
            if let match = CommandLineParser.suggest(word, among: names) {
                message += " (did you mean '--\(match)'?)"
            }
            return error(message)
        }

        /// Matches positionals against the spec's arguments.
        func checkPositionals() throws {
            let given = result.positionals
            var consumed = 0
            for argument in spec.arguments {
                if argument.variadic {
                    if consumed >= given.count && !argument.optional {
                        throw error("missing argument <\(argument.name)>")
                    }
                    consumed = given.count
                    break
                }
                if consumed < given.count {
                    consumed += 1
                } else if !argument.optional {
                    throw error("missing argument <\(argument.name)>")
                }
            }
            if consumed < given.count {
                throw error("unexpected argument '\(given[consumed])'")
            }
        }
    }
}

/// Edit distance (insertions, deletions, substitutions) between two strings, by `Character`.
func levenshtein(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
