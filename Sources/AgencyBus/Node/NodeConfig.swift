import Foundation

/// What `bus-cli init` records in a node directory (`node.json`): the agency this node is and
/// where its topology lives. The topology is read again at every start, so keys pasted into
/// it after `init` are seen.
public struct NodeConfig: Codable, Sendable {
    public var agency: String
    public var topology: String
    public var created: String

    public static func path(in directory: String) -> String { directory + "/node.json" }
    public static func keyPath(in directory: String) -> String { directory + "/node.key" }
    public static func inboxPath(in directory: String) -> String { directory + "/inbox.sqlite" }

    public static func load(directory: String) throws -> NodeConfig {
        let path = Self.path(in: directory)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NodeError.notANode("\(directory) is not an AgencyBus node (no node.json); create one with: bus-cli init --node \(directory) --agency ID --topology FILE")
        }
        do { return try JSONDecoder().decode(NodeConfig.self, from: data) } catch {
            throw NodeError.notANode("\(path) is damaged: \(error)")
        }
    }

    public func write(directory: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try e.encode(self).write(to: URL(fileURLWithPath: Self.path(in: directory)), options: .atomic)
    }
}

/// Failures of node operations, each with the sysexits code the CLI exits with.
public enum NodeError: Error, CustomStringConvertible {
    case notANode(String)                 // 66/78-ish: configuration; CLI maps to 64
    case usage(String)                    // 64
    case data(String)                     // 65
    case unavailable(String)              // 69
    case permission(String)               // 77
    case refused(ProtocolError)           // broker refused: 65 or 77

    public var description: String {
        switch self {
        case .notANode(let s), .usage(let s), .data(let s), .unavailable(let s), .permission(let s): return s
        case .refused(let e): return "the broker refused it: \(e.reason) (\(e.code.rawValue))"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .notANode, .usage: return 64
        case .data: return 65
        case .unavailable: return 69
        case .permission: return 77
        case .refused(let e):
            switch e.code {
            case .forbidden: return 77
            case .storageFull, .storageError: return 69
            default: return 65
            }
        }
    }
}
