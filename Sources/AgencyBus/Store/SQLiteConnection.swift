import CSQLite
import Foundation

/// Owns one `sqlite3*` connection, opened one way for every store: WAL checked,
/// `synchronous=FULL` (a commit is fsync'd before it returns, so it survives power loss),
/// foreign keys on, a busy timeout, `trusted_schema=OFF`, and defensive mode.
///
/// Not thread-safe: each process uses it from its one owner thread.
public final class SQLiteConnection {
    let handle: OpaquePointer
    public let path: String
    private var cache: [String: Statement] = [:]
    private var transactionDepth = 0

    public init(path: String) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close(db) }
            throw SQLiteError(code: rc, extendedCode: rc, message: "cannot open \(path): \(message)", sql: nil)
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5_000)
        // Defensive mode stops SQL from corrupting the file deliberately (writable_schema etc.).
        _ = sqlite3_db_config_int(db, SQLITE_DBCONFIG_DEFENSIVE, 1)
        _ = sqlite3_db_config_int(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0)
        let mode = try scalarText("PRAGMA journal_mode=WAL")
        guard mode.lowercased() == "wal" else {
            throw SQLiteError(code: SQLITE_ERROR, extendedCode: SQLITE_ERROR,
                              message: "\(path): could not switch to WAL (journal_mode is \(mode))", sql: nil)
        }
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
        // Statement journals (one per savepoint: the broker admits each submission in its own)
        // and temp indexes stay in memory: on disk they were tens of thousands of small writes
        // a second under load (measured with strace during `make bench` S1). They hold only
        // what a rollback needs within one open transaction; durability is the WAL's.
        try execute("PRAGMA temp_store=MEMORY")
        // 16 MiB of page cache (default 2 MiB): a round of hundreds of letters stays in memory.
        try execute("PRAGMA cache_size=-16384")
    }

    deinit {
        cache.removeAll()  // finalize statements before closing, or sqlite3_close returns SQLITE_BUSY
        sqlite3_close(handle)
    }

    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: rc & 0xff, extendedCode: sqlite3_extended_errcode(handle),
                    message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements with no parameters (schema, pragmas).
    public func execute(_ sql: String) throws {
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errmsg)
        if let errmsg { sqlite3_free(errmsg) }
        guard rc == SQLITE_OK else { throw error(rc, sql: sql) }
    }

    func statement(_ sql: String) throws -> Statement {
        if let cached = cache[sql] { return cached }
        let stmt = try Statement(connection: self, sql: sql)
        cache[sql] = stmt
        return stmt
    }

    /// Runs a statement with bound values and no result rows.
    public func run(_ sql: String, _ values: SQLBindable?...) throws {
        let stmt = try statement(sql)
        try stmt.bind(values)
        try stmt.run { _ in }
    }

    /// Runs a query and maps each row.
    public func query<T>(_ sql: String, _ values: SQLBindable?..., map: (Row) throws -> T) throws -> [T] {
        let stmt = try statement(sql)
        try stmt.bind(values)
        var out: [T] = []
        try stmt.run { out.append(try map($0)) }
        return out
    }

    /// Runs a query expecting at most one row.
    public func queryOne<T>(_ sql: String, _ values: SQLBindable?..., map: (Row) throws -> T) throws -> T? {
        let stmt = try statement(sql)
        try stmt.bind(values)
        var out: T?
        try stmt.run { row in if out == nil { out = try map(row) } }
        return out
    }

    func scalarText(_ sql: String) throws -> String {
        try queryOne(sql) { $0.text(0) } ?? ""
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction; commits (durably, with
    /// synchronous=FULL) on return and rolls back on any throw. Nested calls use a savepoint inside the outer one.
    @discardableResult
    public func inTransaction<T>(_ body: () throws -> T) throws -> T {
        if transactionDepth > 0 {
            // Nested: a savepoint, so a failing inner part rolls back alone.
            let name = "sp\(transactionDepth)"
            try execute("SAVEPOINT \(name)")
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            do {
                let result = try body()
                try execute("RELEASE \(name)")
                return result
            } catch {
                try? execute("ROLLBACK TO \(name)")
                try? execute("RELEASE \(name)")
                throw error
            }
        }
        try execute("BEGIN IMMEDIATE")
        transactionDepth = 1
        do {
            let result = try body()
            transactionDepth = 0
            try execute("COMMIT")
            return result
        } catch {
            transactionDepth = 0
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Applies the migrations not yet recorded in `schema_migrations`, in order, each in its
    /// own transaction. Shipped migrations are never edited; new ones are appended.
    public func migrate(_ migrations: [(id: String, sql: String)]) throws {
        try execute("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        let applied = Set(try query("SELECT id FROM schema_migrations") { $0.text(0) })
        for migration in migrations where !applied.contains(migration.id) {
            try inTransaction {
                try execute(migration.sql)
                try run("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)", migration.id, Timestamp.now().text)
            }
        }
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        try query("PRAGMA integrity_check") { $0.text(0) }.joined(separator: "; ")
    }
}

/// sqlite3_db_config is variadic in C; Swift cannot call it directly, so the shim wraps it.
private func sqlite3_db_config_int(_ db: OpaquePointer, _ op: Int32, _ value: Int32) -> Int32 {
    agencybus_sqlite3_db_config_int(db, op, value)
}
