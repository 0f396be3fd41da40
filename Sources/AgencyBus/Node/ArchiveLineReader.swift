import Foundation

/// Reads a file line by line (split at `\n`), in 1 MiB chunks, so an archive of any size is
/// checked without holding it in memory. A last line without `\n` is returned too, flagged.
struct ArchiveLineReader {
    private let handle: FileHandle
    private var buffer = Data()
    private var start = 0    // offset in `buffer` where the next line begins
    private var scanned = 0  // offset in `buffer` up to which no newline was found
    private var atEnd = false

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw NodeError.data("cannot read the archive '\(path)' (does it exist?)")
        }
        self.handle = handle
    }

    /// The next line without its `\n`, and whether it had one; nil at the end of the file.
    mutating func next() throws -> (line: Data, terminated: Bool)? {
        while true {
            let base = buffer.startIndex
            if let nl = buffer[(base + max(start, scanned))...].firstIndex(of: 0x0A) {
                let line = Data(buffer[(base + start)..<nl])
                start = nl - base + 1
                scanned = start
                return (line, true)
            }
            scanned = buffer.count
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = Data(buffer[(base + start)...])
                start = buffer.count
                return (line, false)
            }
            // Drop what was returned before reading more, so the buffer holds at most one
            // line plus a chunk.
            if start > 0 {
                buffer = Data(buffer[(base + start)...])
                scanned -= start
                start = 0
            }
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { atEnd = true } else { buffer.append(chunk) }
        }
    }

    func close() { try? handle.close() }
}
