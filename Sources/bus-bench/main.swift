import AgencyBus
import CSQLite
import CSodium
import CCrypto
import CZMQ
import Foundation

// bus-bench: argv → options → run the scenarios → table on stdout and in --out.

let usage = """
USAGE: bus-bench [--quick] [--only LIST] [--out FILE] [--bin DIR] [--work DIR] [--keep] [--command TEXT]

Starts real bus-broker processes and real node code on loopback and prints a table of
throughput, latency and query times, each next to the machine limit that bounds it.

OPTIONS:
  --quick          Smoke run (a minute or two): every scenario, scaled down about 10-50×
  --only LIST      Comma-separated scenarios to run: s1,s2,s3,s4,s5 (s5 includes s6); default all
  --out FILE       Also write the report (markdown) to FILE, e.g. docs/benchmarks.md
  --bin DIR        Where bus-broker is (default: the directory of this executable)
  --work DIR       Scratch directory for stores (default: a new directory under $TMPDIR)
  --keep           Keep the scratch directory
  --command TEXT   The command line to record in the report (default: this one)
"""

var quick = false, keep = false
var only: Set<String> = ["s1", "s2", "s3", "s4", "s5"]
var out: String?, work: String?, commandText: String?
var bin = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    func value() -> String {
        guard !args.isEmpty else { FileHandle.standardError.write(Data("Error: \(a) needs a value\n\(usage)\n".utf8)); exit(64) }
        return args.removeFirst()
    }
    switch a {
    case "--quick": quick = true
    case "--keep": keep = true
    case "--only": only = Set(value().lowercased().split(separator: ",").map(String.init))
    case "--out": out = value()
    case "--bin": bin = value()
    case "--work": work = value()
    case "--command": commandText = value()
    case "-h", "--help": print(usage); exit(0)
    default:
        FileHandle.standardError.write(Data("Error: unknown option '\(a)'\n\(usage)\n".utf8))
        exit(64)
    }
}
guard FileManager.default.isExecutableFile(atPath: bin + "/bus-broker") else {
    FileHandle.standardError.write(Data("Error: no bus-broker in \(bin); build it (swift build -c release) or pass --bin\n".utf8))
    exit(69)
}
let scale = quick ? Scale.quick : Scale.full
let root = work ?? (NSTemporaryDirectory() + "/agencybus-bench-\(getpid())")
try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
let started = Date()
let wall0 = now()

// MARK: - Run

say("scale \(scale.name); scratch \(root)")
say("limits: raw ZeroMQ forwarder, Ed25519, SQLite durable commits")
let limits = try LimitBench.measure(scale: scale, runs: scale.runsFast, directory: root)
let scenarios = Scenarios(scale: scale, limits: limits, root: root, bin: bin, keep: keep)
var rows: [Row] = []
var failures: [String] = []
func attempt(_ name: String, _ body: () throws -> [Row]) {
    do { rows += try body() } catch {
        say("\(name) FAILED: \(error)")
        failures.append("\(name): \(error)")
    }
}
if only.contains("s1") { attempt("S1") { try scenarios.relay() } }
if only.contains("s2") { attempt("S2") { try scenarios.latency() } }
if only.contains("s3") { attempt("S3") { try scenarios.fanOut() } }
var s4Bus: BenchBus?
if only.contains("s4") {
    attempt("S4") {
        let r = try scenarios.backlog()
        s4Bus = r.bus
        return r.rows
    }
}
if only.contains("s5") || only.contains("s6") { attempt("S5/S6") { try scenarios.restartAndQueries(search100k: s4Bus) } }
s4Bus?.remove(keep: keep)

// MARK: - Limits table

func limitRows() -> [Row] {
    let r = "\(scale.runsFast)"
    return [
        Row(scenario: "limit (a)", metric: "raw forwarder 2 KiB, no crypto", figure: limits.rawSmallPerSecond, unit: "msg/s", runs: r),
        Row(scenario: "limit (a)", metric: "raw forwarder 2 KiB, CURVE", figure: limits.rawSmallCurvePerSecond, unit: "msg/s", runs: r),
        Row(scenario: "limit (a)", metric: "raw forwarder 1 MiB, no crypto", figure: limits.rawLargeMBps, unit: "MB/s", runs: r),
        Row(scenario: "limit (a)", metric: "raw forwarder 1 MiB, CURVE", figure: limits.rawLargeCurveMBps, unit: "MB/s", runs: r),
        Row(scenario: "limit (a)", metric: "raw forwarder one-way p50 @2,000/s", figure: limits.rawLatencyP50, unit: "ms", runs: r),
        Row(scenario: "limit (a)", metric: "raw forwarder one-way p99 @2,000/s", figure: limits.rawLatencyP99, unit: "ms", runs: r),
        Row(scenario: "limit (b)", metric: "Ed25519 sign, 2 KiB, 1 core", figure: limits.signPerSecond, unit: "/s", runs: r),
        Row(scenario: "limit (b)", metric: "Ed25519 verify, 2 KiB, 1 core", figure: limits.verifyPerSecond, unit: "/s", runs: r),
        Row(scenario: "limit (b)", metric: "SHA-256 (libcrypto), 1 MiB, 1 core", figure: limits.sha256MBps, unit: "MB/s", runs: r),
        Row(scenario: "limit (b)", metric: "CURVE cost per 2 KiB message (2 hops)",
            figure: Figure(values: [limits.curveMicrosecondsPerMessage]), unit: "µs", runs: r),
        Row(scenario: "limit (b)", metric: "crypto-bound relay rate (\(limits.cores) cores)",
            figure: Figure(values: [limits.cryptoBoundLettersPerSecond]), unit: "letters/s", runs: r),
        Row(scenario: "limit (c)", metric: "SQLite WAL FULL, 1 row per commit", figure: limits.commitsPerSecond, unit: "commits/s", runs: r),
        Row(scenario: "limit (c)", metric: "SQLite WAL FULL, 100 rows per commit", figure: limits.batchedRowsPerSecond, unit: "rows/s", runs: r),
        Row(scenario: "limit (c)", metric: "SQLite WAL FULL, 1 MiB blobs, 8 per commit", figure: limits.blobMBps, unit: "MB/s", runs: r),
    ]
}

// MARK: - Report

func firstLine(_ path: String, _ prefix: String) -> String? {
    (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix(prefix) }
        .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) }
}
var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
zmq_version(&major, &minor, &patch)
let cpu = firstLine("/proc/cpuinfo", "model name") ?? "unknown CPU"
let memory = firstLine("/proc/meminfo", "MemTotal") ?? "?"
let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
let swiftVersion = ProcessInfo.processInfo.environment["BENCH_SWIFT_VERSION"]
    ?? commandOutput("/usr/bin/env", ["swift", "--version"])?.split(separator: "\n").first.map(String.init) ?? "unknown"
let gitCommit = commandOutput("/usr/bin/env", ["git", "rev-parse", "--short", "HEAD"]) ?? "unknown"
let command = commandText ?? (["bus-bench"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
let dateFormatter = ISO8601DateFormatter()
let missed = rows.filter { $0.met == false }

var doc = """
# Benchmarks

Output of a real run of `\(command)` (scale: \(scale.name)). Regenerate with `make bench`
(full scale, under 15 minutes on 2 cores) or `make bench-quick` (a smoke run of a minute or two).

- Date: \(dateFormatter.string(from: started)) (run took \(fmt((now() - wall0) / 60, 1)) min)
- Machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), \(memory) RAM, Linux \(kernel)
- Versions: \(swiftVersion); libzmq \(major).\(minor).\(patch); SQLite \(String(cString: sqlite3_libversion())); libsodium \(String(cString: sodium_version_string())); \(String(cString: OpenSSL_version(OPENSSL_VERSION))) (SHA-256); AgencyBus \(gitCommit)
- Build: `swift build -c release`; broker `bus-broker --log-level warning` (one process per scenario, fresh store)

Figures are medians of the runs with their spread (min–max) in brackets; S1, S2, S3 (one circular),
S5 and the limits ran \(scale.runsFast)×, S3 (back to back) and S4 \(scale.runsLarge)× (each takes minutes at full
scale); S6 gives p50/p99 over repeated queries on one generated store. "Ratio" is the figure
divided by the limit that bounds it (for times: limit ÷ figure), so 1.0 means "at the limit".

## Results

\(Report.table(rows))
## Limits of this machine (same run)

\(Report.table(limitRows()))
"""
if !failures.isEmpty {
    doc += "\n## Scenarios that failed in this run\n\n" + failures.map { "- \($0)" }.joined(separator: "\n") + "\n"
}
doc += "\n## Targets missed in this run\n\n"
doc += missed.isEmpty ? "None.\n" : missed.map { "- \($0.scenario), \($0.metric): \($0.value) against \($0.target); bounded by: \($0.limit)." }.joined(separator: "\n") + "\n"
doc += "\n" + Notes.text
print(Report.table(rows))
print(Report.table(limitRows()))
if let out {
    try doc.write(toFile: out, atomically: true, encoding: .utf8)
    say("wrote \(out)")
}
say("done in \(fmt((now() - wall0) / 60, 1)) min")
if !keep { try? FileManager.default.removeItem(atPath: root) }  // exit() skips top-level defers
exit(failures.isEmpty ? 0 : 1)
