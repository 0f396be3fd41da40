import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An emulated WAN between the test's network namespace (where the broker and the delay proxy
/// run) and a private "nodes" namespace, through a "router" namespace that does the damage:
///
///     test ns  abh<X> 10.250.X.1/30 ── veth ── 10.250.X.2 abr0<X>  [router ns]
///     [router ns] abr1<X> 10.250.X.5/30 ── veth ── 10.250.X.6 abn0<X>  nodes ns
///
/// The router forwards between the two links; its iptables FORWARD chain drops packets at
/// random (`-m statistic --mode random`) and, for a cut, all of them; `tbf` caps each
/// direction's bandwidth. Drops happen in transit, as on a real WAN (a DROP in a sender's own
/// OUTPUT chain would fail its sends at once with EPERM instead). Every address is private to
/// these namespaces; the test namespace gets only the veth end and a route to 10.250.X.4/30,
/// both gone with the link. No iptables rule is added outside the router namespace.
///
/// Needs root (`ip netns add`); `create()` throws `Unavailable` with the reason otherwise.
final class WANLink {
    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    let index: Int
    let nodesNamespace: String
    let routerNamespace: String
    /// The test-namespace end of the link: where nodes in `nodesNamespace` can reach us.
    var hostAddress: String { "10.250.\(index).1" }
    var nodesAddress: String { "10.250.\(index).6" }
    private var hostDevice: String { "abh\(index)" }
    private var routerUplink: String { "abr0\(index)" }
    private var routerDownlink: String { "abr1\(index)" }
    private var nodesDevice: String { "abn0\(index)" }
    private(set) var isCut = false
    private var tornDown = false

    private init(index: Int) {
        self.index = index
        let pid = getpid()
        nodesNamespace = "agencybus-wan-nodes-\(pid)-\(index)"
        routerNamespace = "agencybus-wan-router-\(pid)-\(index)"
    }

    deinit { teardown() }

    /// Full path of a system tool (`ip`, `iptables`, `tc`, `mount`), or throws.
    static func tool(_ name: String) throws -> String {
        for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        throw Unavailable(description: "'\(name)' is not installed (make test-faults installs iptables and iproute2)")
    }

    /// Runs a system tool to completion; returns its exit status and combined output.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.tool(tool))
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs a tool and throws with its output when it fails.
    private static func must(_ tool: String, _ arguments: [String]) throws {
        let r = try run(tool, arguments)
        guard r.status == 0 else {
            throw HarnessError("`\(tool) \(arguments.joined(separator: " "))` failed (\(r.status)): \(r.output)")
        }
    }

    /// Builds the two namespaces and links, or throws `Unavailable` (not root, no `ip netns`,
    /// no iptables) so the caller can skip with the reason.
    static func create() throws -> WANLink {
        guard getuid() == 0 else { throw Unavailable(description: "not root (uid \(getuid())); network namespaces need root") }
        _ = try tool("ip")
        _ = try tool("iptables")
        _ = try tool("tc")
        removeStale()
        // A /24 of 10.250/16 that no interface uses yet (parallel runs pick different ones).
        let inUse = try run("ip", ["-o", "addr", "show"]).output
        guard let index = ((Int(getpid()) % 200 + 1)...).prefix(250).map({ ($0 - 1) % 250 + 1 })
            .first(where: { !inUse.contains("10.250.\($0).") }) else {
            throw Unavailable(description: "no free 10.250.X.0/24 subnet")
        }
        let link = WANLink(index: index)
        let probe = try run("ip", ["netns", "add", link.nodesNamespace])
        guard probe.status == 0 else {
            throw Unavailable(description: "`ip netns add` failed: \(probe.output)")
        }
        do {
            try link.build()
        } catch {
            link.teardown()
            throw error
        }
        return link
    }

    private func build() throws {
        let (N, R, X) = (nodesNamespace, routerNamespace, index)
        try Self.must("ip", ["netns", "add", R])
        try Self.must("ip", ["link", "add", hostDevice, "type", "veth", "peer", "name", routerUplink])
        try Self.must("ip", ["link", "set", routerUplink, "netns", R])
        try Self.must("ip", ["link", "add", nodesDevice, "type", "veth", "peer", "name", routerDownlink])
        try Self.must("ip", ["link", "set", routerDownlink, "netns", R])
        try Self.must("ip", ["link", "set", nodesDevice, "netns", N])
        try Self.must("ip", ["addr", "add", "10.250.\(X).1/30", "dev", hostDevice])
        try Self.must("ip", ["link", "set", hostDevice, "up"])
        try Self.must("ip", ["-n", R, "addr", "add", "10.250.\(X).2/30", "dev", routerUplink])
        try Self.must("ip", ["-n", R, "addr", "add", "10.250.\(X).5/30", "dev", routerDownlink])
        for dev in [routerUplink, routerDownlink, "lo"] { try Self.must("ip", ["-n", R, "link", "set", dev, "up"]) }
        try Self.must("ip", ["-n", N, "addr", "add", "10.250.\(X).6/30", "dev", nodesDevice])
        for dev in [nodesDevice, "lo"] { try Self.must("ip", ["-n", N, "link", "set", dev, "up"]) }
        try Self.must("ip", ["-n", N, "route", "add", "default", "via", "10.250.\(X).5"])
        try Self.must("ip", ["route", "add", "10.250.\(X).4/30", "via", "10.250.\(X).2", "dev", hostDevice])
        // Forwarding is per namespace; this turns it on in the router only.
        try Self.must("ip", ["netns", "exec", R, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])
    }

    /// Random loss on every forwarded packet (both directions) and a bandwidth cap per
    /// direction (`tbf`, e.g. "1mbit").
    func impair(lossProbability: Double, rate: String) throws {
        try Self.must("ip", ["netns", "exec", routerNamespace, "iptables", "-A", "FORWARD", "-m", "statistic",
                             "--mode", "random", "--probability", String(lossProbability), "-j", "DROP"])
        for dev in [routerUplink, routerDownlink] {
            try Self.must("ip", ["netns", "exec", routerNamespace, "tc", "qdisc", "add", "dev", dev, "root",
                                 "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms"])
        }
    }

    /// A total cut (every forwarded packet dropped) or its end.
    func setCut(_ on: Bool) throws {
        guard on != isCut else { return }
        try Self.must("ip", ["netns", "exec", routerNamespace, "iptables", on ? "-I" : "-D", "FORWARD"] + (on ? ["1"] : []) + ["-j", "DROP"])
        isCut = on
    }

    /// The router's FORWARD counters (for the report: how many packets the loss rule dropped).
    func droppedPackets() -> String {
        (try? Self.run("ip", ["netns", "exec", routerNamespace, "iptables", "-L", "FORWARD", "-n", "-v", "-x"]).output) ?? ""
    }

    /// Removes the links (and with them the route) and both namespaces. Safe to call twice.
    func teardown() {
        guard !tornDown else { return }
        tornDown = true
        _ = try? Self.run("ip", ["link", "del", hostDevice])
        _ = try? Self.run("ip", ["netns", "del", nodesNamespace])
        _ = try? Self.run("ip", ["netns", "del", routerNamespace])
    }

    /// Namespaces a crashed earlier run left behind (its pid is gone): removed with their links.
    static func removeStale() {
        guard let list = try? run("ip", ["netns", "list"]).output else { return }
        for line in list.split(separator: "\n") {
            let name = String(line.split(separator: " ")[0])
            guard name.hasPrefix("agencybus-wan-") else { continue }
            let parts = name.split(separator: "-")
            guard parts.count == 5, let pid = Int32(parts[3]), let index = Int(parts[4]) else { continue }
            if pid == getpid() || kill(pid, 0) == 0 { continue }
            _ = try? run("ip", ["link", "del", "abh\(index)"])
            _ = try? run("ip", ["netns", "del", name])
        }
    }
}
