import Foundation

/// One JSON object as one line, encoded the way `Output.json` prints it (compact, keys
/// sorted, slashes not escaped), for code that builds lines before printing them.
public enum JSONLine {
    public static func encode(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
