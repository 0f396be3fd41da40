/// How an executable picks its log format and level: a command-line option wins, then
/// `--verbose` (debug), then the environment (`AGENCYBUS_LOG_FORMAT`, `AGENCYBUS_LOG_LEVEL`),
/// then the default. Pure, so tests drive it without processes.
public enum LogSettings {
    public static let formatVariable = "AGENCYBUS_LOG_FORMAT"
    public static let levelVariable = "AGENCYBUS_LOG_LEVEL"

    static let levels: [String: Logger.Level] = ["debug": .debug, "info": .info, "warning": .warning, "error": .error]

    /// A bad value, named by where it came from (e.g. "--log-level" or "AGENCYBUS_LOG_LEVEL").
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Throws `Invalid` naming the option or variable and the values allowed.
    public static func resolve(format: String?, level: String?, verbose: Bool = false, environment: [String: String],
                               defaultLevel: Logger.Level) throws -> (format: Logger.Format, level: Logger.Level) {
        func pick(_ option: String?, _ optionName: String, _ variable: String) -> (String, String)? {
            if let option { return (option, optionName) }
            if let v = environment[variable], !v.isEmpty { return (v, variable) }
            return nil
        }
        var f = Logger.Format.logfmt
        if let (text, source) = pick(format, "--log-format", formatVariable) {
            guard let parsed = Logger.Format(rawValue: text) else {
                throw Invalid(description: "\(source) must be logfmt or json, got '\(text)'")
            }
            f = parsed
        }
        var l = defaultLevel
        if let level {
            guard let parsed = levels[level] else { throw Invalid(description: "--log-level must be debug, info, warning or error, got '\(level)'") }
            l = parsed
        } else if verbose {
            l = .debug
        } else if let text = environment[levelVariable], !text.isEmpty {
            guard let parsed = levels[text] else {
                throw Invalid(description: "\(levelVariable) must be debug, info, warning or error, got '\(text)'")
            }
            l = parsed
        }
        return (f, l)
    }
}
