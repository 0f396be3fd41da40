import Foundation

/// What `bus-cli init --operator DIR` records in an operator directory (`operator.json`): the
/// operator id and where the topology lives. The topology is read again at every start.
/// The secret key is `operator.key` (mode 0600) next to it.
public struct OperatorConfig: Codable, Sendable {
    public var `operator`: String
    public var topology: String
    public var created: String

    public static func path(in directory: String) -> String { directory + "/operator.json" }
    public static func keyPath(in directory: String) -> String { directory + "/operator.key" }

    public static func load(directory: String) throws -> OperatorConfig {
        let path = Self.path(in: directory)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NodeError.notANode("\(directory) is not an AgencyBus operator directory (no operator.json); create one with: bus-cli init --operator \(directory) --id ID --topology FILE")
        }
        do { return try JSONDecoder().decode(OperatorConfig.self, from: data) } catch {
            throw NodeError.notANode("\(path) is damaged: \(error)")
        }
    }

    public func write(directory: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try e.encode(self).write(to: URL(fileURLWithPath: Self.path(in: directory)), options: .atomic)
    }
}
