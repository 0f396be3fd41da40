import Foundation

/// One line per event on stderr, logfmt (default) or JSON, with a level. A constant message
/// plus data in dotted keys (`message.id`, `agency`); never secrets, never letter content.
public final class Logger: @unchecked Sendable {
    // @unchecked Sendable: all mutable state is behind `lock`.
    public enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var name: String { ["debug", "info", "warning", "error"][rawValue] }
    }
    public enum Format: String, Sendable { case logfmt, json }

    private let lock = NSLock()
    public let label: String
    public var minimum: Level
    public var format: Format

    public init(label: String, minimum: Level = .info, format: Format = .logfmt) {
        self.label = label; self.minimum = minimum; self.format = format
    }

    public func debug(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.debug, message, fields) }
    public func info(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.info, message, fields) }
    public func warning(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.warning, message, fields) }
    public func error(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.error, message, fields) }

    public func log(_ level: Level, _ message: String, _ fields: KeyValuePairs<String, Any>) {
        guard level >= minimum else { return }
        var pairs: [(String, String)] = [("ts", Timestamp.now().text), ("level", level.name), ("logger", label), ("msg", message)]
        for (k, v) in fields { pairs.append((k, "\(v)")) }
        let line: String
        switch format {
        case .logfmt:
            line = pairs.map { "\($0.0)=\(Self.quote($0.1))" }.joined(separator: " ")
        case .json:
            let body = pairs.map { "\(Self.jsonString($0.0)):\(Self.jsonString($0.1))" }.joined(separator: ",")
            line = "{\(body)}"
        }
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func quote(_ v: String) -> String {
        let needs = v.isEmpty || v.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.isNewline }
        guard needs else { return v }
        return "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    static func jsonString(_ v: String) -> String {
        var out = "\""
        for u in v.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
