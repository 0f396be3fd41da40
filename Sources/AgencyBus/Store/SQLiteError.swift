import CSQLite

/// A failed SQLite call, keeping the primary and extended result codes and the statement.
public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let extendedCode: Int32
    public let message: String
    public let sql: String?

    /// True when the disk (or the quota) is full: `SQLITE_FULL`.
    public var isStorageFull: Bool { code == SQLITE_FULL }
    /// True for `SQLITE_BUSY`/`SQLITE_LOCKED`: another connection holds the lock past the busy timeout.
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }

    public var description: String {
        var text = "SQLite error \(code) (extended \(extendedCode)): \(message)"
        if let sql { text += " [\(sql.prefix(120))]" }
        return text
    }
}
