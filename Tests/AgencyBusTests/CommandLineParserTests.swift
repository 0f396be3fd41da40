import Testing
@testable import AgencyBus

private let sendSpec = CommandSpec(
    tool: "bus-cli",
    name: "send",
    abstract: "Send a message.",
    arguments: [ArgumentSpec("BODY", help: "Message body.", optional: true)],
    options: [
        OptionSpec("node", short: "n", value: "DIR", help: "(required) Node directory."),
        OptionSpec("to", value: "ID", help: "(required) Recipient.", repeatable: true),
        OptionSpec("cc", value: "ID", help: "Copy recipient.", repeatable: true),
        OptionSpec("subject", value: "TEXT", help: "Subject line."),
        OptionSpec("priority", value: "N", help: "Priority."),
        OptionSpec("json", short: "j", help: "Print JSON."),
        OptionSpec("verbose", short: "v", help: "More output.", repeatable: true),
    ]
)

private let showSpec = CommandSpec(
    tool: "bus-cli",
    name: "show",
    abstract: "Show one message.",
    discussion: "Reads the message from the node's store.",
    arguments: [ArgumentSpec("ID", help: "Message id.")],
    options: [
        OptionSpec("node", value: "DIR", help: "(required) Node directory."),
        OptionSpec("json", help: "Print JSON."),
    ]
)

private let brokerSpec = CommandSpec(
    tool: "bus-broker",
    abstract: "Run the broker.",
    options: [OptionSpec("config", value: "FILE", help: "Configuration file.")]
)

/// Parses expecting a `UsageError` and returns its message.
private func usageMessage(_ args: [String], spec: CommandSpec = sendSpec) -> String? {
    do {
        _ = try CommandLineParser.parse(args, spec: spec)
        return nil
    } catch let error as UsageError {
        return error.message
    } catch {
        return "unexpected error type: \(error)"
    }
}

@Suite("CommandLineParser")
struct CommandLineParserTests {
    // MARK: Values

    @Test func bothValueForms() throws {
        let p = try CommandLineParser.parse(["--node", "/a", "--subject=hi there", "-j"], spec: sendSpec)
        #expect(p.value("node") == "/a")
        #expect(p.value("subject") == "hi there")
        #expect(p.flag("json"))
        #expect(!p.flag("verbose"))
        #expect(p.has("node"))
        #expect(!p.has("cc"))
        #expect(p.value("cc") == nil)
        #expect(p.positionals.isEmpty)
        #expect(!p.helpRequested)
    }

    @Test func shortValueForms() throws {
        let p = try CommandLineParser.parse(["-n", "/a"], spec: sendSpec)
        #expect(p.value("node") == "/a")
        // No attached short values: "-node" is a typo for "--node", not "-n ode".
        #expect(usageMessage(["-n/b"]) == "unknown option '-n/b'")
        let r = try CommandLineParser.parse(["-jvn", "/c"], spec: sendSpec)
        #expect(r.flag("json") && r.flag("verbose") && r.value("node") == "/c")
    }

    @Test func equalsValueMayBeEmptyOrContainEquals() throws {
        let p = try CommandLineParser.parse(["--subject=a=b", "--node="], spec: sendSpec)
        #expect(p.value("subject") == "a=b")
        #expect(p.value("node") == "")
        #expect(p.has("node"))
    }

    @Test func doubleDashEndsOptions() throws {
        let p = try CommandLineParser.parse(["--json", "--", "--node"], spec: sendSpec)
        #expect(p.flag("json"))
        #expect(!p.has("node"))
        #expect(p.positionals == ["--node"])

        let q = try CommandLineParser.parse(["--", "-h"], spec: sendSpec)
        #expect(!q.helpRequested)
        #expect(q.positionals == ["-h"])
    }

    @Test func loneDashIsPositional() throws {
        let p = try CommandLineParser.parse(["-"], spec: sendSpec)
        #expect(p.positionals == ["-"])
        let q = try CommandLineParser.parse(["--subject", "-"], spec: sendSpec)
        #expect(q.value("subject") == "-")
    }

    @Test func negativeNumbers() throws {
        let p = try CommandLineParser.parse(["--priority", "-5"], spec: sendSpec)
        #expect(p.value("priority") == "-5")
        let q = try CommandLineParser.parse(["-2.5"], spec: sendSpec)
        #expect(q.positionals == ["-2.5"])
    }

    @Test func repeatableAccumulates() throws {
        let p = try CommandLineParser.parse(
            ["--to", "a", "--cc=x", "--to=b", "--to", "c", "-v", "--verbose"], spec: sendSpec)
        #expect(p.values("to") == ["a", "b", "c"])
        #expect(p.value("to") == "c")
        #expect(p.values("cc") == ["x"])
        #expect(p.values("subject") == [])
        #expect(p.count("verbose") == 2)
    }

    // MARK: Errors

    @Test func duplicateNonRepeatable() {
        #expect(usageMessage(["--subject", "a", "--subject=b"]) == "option '--subject' given more than once")
        #expect(usageMessage(["--json", "-j"]) == "option '--json' given more than once")
        #expect(usageMessage(["-n", "a", "--node", "b"]) == "option '--node' given more than once")
    }

    @Test func unknownOptionWithSuggestion() {
        #expect(usageMessage(["--nod", "x"]) == "unknown option '--nod' (did you mean '--node'?)")
        #expect(usageMessage(["--sub=x"]) == "unknown option '--sub' (did you mean '--subject'?)")
        #expect(usageMessage(["--hlep"]) == "unknown option '--hlep' (did you mean '--help'?)")
        #expect(usageMessage(["--zzzzzz"]) == "unknown option '--zzzzzz'")
        #expect(usageMessage(["-node", "x"]) == "unknown option '-node' (did you mean '--node'?)")
        #expect(usageMessage(["-sub"]) == "unknown option '-sub' (did you mean '--subject'?)")
        #expect(usageMessage(["-jq"]) == "unknown option '-q' in '-jq'")
    }

    @Test func missingValue() {
        #expect(usageMessage(["--node"]) == "option '--node' needs a value (<DIR>)")
        #expect(usageMessage(["--node", "--json"]) == "option '--node' needs a value (<DIR>)")
        #expect(usageMessage(["-n", "-j"]) == "option '--node' needs a value (<DIR>)")
        #expect(usageMessage(["--node", "--", "x"]) == "option '--node' needs a value (<DIR>)")
    }

    @Test func flagWithValue() {
        #expect(usageMessage(["--json=1"]) == "option '--json' does not take a value")
    }

    @Test func missingPositional() {
        #expect(usageMessage(["--node", "/a"], spec: showSpec) == "missing argument <ID>")
    }

    @Test func tooManyPositionals() {
        #expect(usageMessage(["42", "x"], spec: showSpec) == "unexpected argument 'x'")
        #expect(usageMessage(["x"], spec: brokerSpec) == "unexpected argument 'x'")
    }

    @Test func optionalAndVariadicPositionals() throws {
        #expect(try CommandLineParser.parse([], spec: sendSpec).positionals == [])
        #expect(try CommandLineParser.parse(["hello"], spec: sendSpec).positionals == ["hello"])

        let catSpec = CommandSpec(
            tool: "t", name: "cat", abstract: "x",
            arguments: [ArgumentSpec("DEST", help: ""), ArgumentSpec("FILE", help: "", variadic: true)])
        #expect(try CommandLineParser.parse(["d", "1", "2", "3"], spec: catSpec).positionals == ["d", "1", "2", "3"])
        #expect(usageMessage(["d"], spec: catSpec) == "missing argument <FILE>")
        #expect(catSpec.usageLine == "t cat <DEST> <FILE> ...")
    }

    // MARK: Help

    @Test func helpFlag() throws {
        #expect(try CommandLineParser.parse(["--help"], spec: showSpec).helpRequested)
        #expect(try CommandLineParser.parse(["-h"], spec: showSpec).helpRequested)
        // Help wins over anything invalid around it.
        #expect(try CommandLineParser.parse(["--bogus", "a", "b", "c", "-h"], spec: showSpec).helpRequested)
        #expect(try CommandLineParser.parse(["--node", "--help"], spec: showSpec).helpRequested)
        #expect(try CommandLineParser.parse(["-jh"], spec: sendSpec).helpRequested)
    }

    @Test func exactHelpText() {
        let expected = """
            OVERVIEW: Show one message.

            Reads the message from the node's store.

            USAGE: bus-cli show --node <DIR> [--json] <ID>

            ARGUMENTS:
              <ID>                    Message id.

            OPTIONS:
              --node <DIR>            (required) Node directory.
              --json                  Print JSON.
              -h, --help              Show help information.
            """
        #expect(showSpec.helpText() == expected)
    }

    @Test func helpTextWithoutArgumentsAndWideLabels() {
        let spec = CommandSpec(
            tool: "bus-broker", abstract: "Run the broker.",
            options: [
                OptionSpec("listen-address", short: "l", value: "HOST:PORT", help: "Where to listen.", repeatable: true),
                OptionSpec("quiet", short: "q", help: "Less output."),
            ])
        let expected = """
            OVERVIEW: Run the broker.

            USAGE: bus-broker [--listen-address <HOST:PORT> ...] [--quiet]

            OPTIONS:
              -l, --listen-address <HOST:PORT>  Where to listen.
              -q, --quiet                       Less output.
              -h, --help                        Show help information.
            """
        #expect(spec.helpText() == expected)
    }

    @Test func usageLine() {
        #expect(sendSpec.usageLine == "bus-cli send --node <DIR> --to <ID> ... [--cc <ID> ...] [--subject <TEXT>] [--priority <N>] [--json] [--verbose ...] [<BODY>]")
    }

    // MARK: Error rendering

    @Test func exactUsageErrorDescription() {
        let error = UsageError("missing argument <ID>", spec: showSpec)
        #expect(error.description == """
            Error: missing argument <ID>
            Usage: bus-cli show --node <DIR> [--json] <ID>
              See 'bus-cli show --help'.
            """)

        let noVerb = UsageError("unexpected argument 'x'", spec: brokerSpec)
        #expect(noVerb.description == """
            Error: unexpected argument 'x'
            Usage: bus-broker [--config <FILE>]
              See 'bus-broker --help'.
            """)
    }

    @Test func requiredOption() throws {
        let p = try CommandLineParser.parse(["7"], spec: showSpec)
        #expect(throws: UsageError.self) { try CommandLineParser.required("node", in: p, spec: showSpec) }
        do {
            _ = try CommandLineParser.required("node", in: p, spec: showSpec)
        } catch let error as UsageError {
            #expect(error.message == "missing required option '--node <DIR>'")
        }
        let q = try CommandLineParser.parse(["7", "--node", "/n"], spec: showSpec)
        #expect(try CommandLineParser.required("node", in: q, spec: showSpec) == "/n")
    }

    // MARK: Suggestions

    @Test func levenshteinDistance() {
        #expect(levenshtein("", "") == 0)
        #expect(levenshtein("abc", "") == 3)
        #expect(levenshtein("kitten", "sitting") == 3)
        #expect(levenshtein("sned", "send") == 2)
        #expect(levenshtein("node", "node") == 0)
    }

    @Test func suggestVerbs() {
        let verbs = ["send", "show", "inbox", "ack"]
        #expect(CommandLineParser.suggest("sned", among: verbs) == "send")
        #expect(CommandLineParser.suggest("inb", among: verbs) == "inbox")
        #expect(CommandLineParser.suggest("SHOW", among: verbs) == "show")
        #expect(CommandLineParser.suggest("x", among: verbs) == nil)
        #expect(CommandLineParser.suggest("frobnicate", among: verbs) == nil)
        #expect(CommandLineParser.suggest("", among: verbs) == nil)
    }
}
