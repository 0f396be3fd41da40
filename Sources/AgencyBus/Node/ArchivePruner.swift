import Foundation

/// Decides which letters `archive prune` takes out of the live inbox, and does it.
///
/// A letter is pruned only when all of these hold:
/// 1. it and every message of its tree in the store (dispositions, status updates) are in an
///    export that verified, with the same header hash: nothing that was not exported is
///    ever deleted, and an item that arrived after the export keeps its whole letter; and
///    that export's file is still at its path with the SHA-256 it had when it verified (an
///    archive deleted, moved or damaged since no longer counts);
/// 2. nothing of the tree waits in the outbox;
/// 3. it is **closed**: every addressee of every disposition on it reported `done` (closed
///    on the day of the last `done`, agency zone), or, with no disposition, on the letter's
///    own date;
/// 4. its retention has passed: today ≥ closing day + the years `Retention` gives its
///    classification.
///
/// Pruning deletes the tree's messages, attachments, delivery rows, holder rows and index
/// rows in one transaction; the agenda keeps its line (numbers are never reused).
public enum ArchivePruner {
    public struct Decision: Sendable {
        public let letterID: String
        public let agendaNumber: AgendaNumber?
        public let classification: String
        public let closedOn: String?
        public let keepUntil: String?
        /// Messages of the tree (letter, dispositions, statuses).
        public let messages: Int
        public let prune: Bool
        /// Why it is kept, or what made it go.
        public let reason: String
    }

    public struct Outcome: Sendable {
        /// One per letter in a verified export, in storage order.
        public let decisions: [Decision]
        /// Letters in the store that no verified export holds (never touched).
        public let notExported: Int
        public let dryRun: Bool
        public var pruned: [Decision] { decisions.filter(\.prune) }
    }

    public static func run(store: NodeStore, retention: Retention, dryRun: Bool) throws -> Outcome {
        if dryRun { return try plan(store: store, retention: retention, delete: false) }
        // Decide and delete in one write transaction: a status that arrives meanwhile either
        // committed before (and is seen) or waits for the lock (and keeps its own row).
        return try store.db.inTransaction { try plan(store: store, retention: retention, delete: true) }
    }

    static func plan(store: NodeStore, retention: Retention, delete: Bool) throws -> Outcome {
        let calendar = store.calendar
        let today = calendar.today()
        var decisions: [Decision] = []
        let candidates = try store.exportedLetters()
        // Exports whose file is still what verified; the others protect nothing.
        var intactExports: [Int64] = []
        var changedFiles: [String] = []
        if !candidates.isEmpty {
            for e in try store.exports() where e.verifiedAt != nil {
                if fileSHA256(path: e.path) == e.fileSHA256 { intactExports.append(e.id) } else { changedFiles.append(e.path) }
            }
        }
        for id in candidates {
            let tree = try store.treeArchiveState(letterID: id, intactExports: intactExports)
            let letter = (try store.message(id: id)).flatMap { try? JSONDecoder().decode(Letter.self, from: $0.header) }
            let classification = letter?.classification ?? "sangat-rahasia"
            let number = try store.agendaNumber(messageID: id)
            func keep(_ why: String, closed: String? = nil, until: String? = nil) {
                decisions.append(Decision(letterID: id, agendaNumber: number, classification: classification, closedOn: closed,
                                          keepUntil: until, messages: tree.count, prune: false, reason: why))
            }
            let missing = tree.filter { !$0.exported }
            if !missing.isEmpty {
                keep("\(missing.count) item(s) of its tree are not in a verified archive (\(missing.map(\.id).prefix(3).joined(separator: ", "))); export \(number.map { String($0.year) } ?? "its year") again")
                continue
            }
            if tree.contains(where: { !$0.intact }) {
                keep("its archive file is missing or changed since it verified (\(changedFiles.prefix(3).joined(separator: ", "))); export \(number.map { String($0.year) } ?? "its year") again")
                continue
            }
            if tree.contains(where: { $0.state == "queued" }) { keep("part of its tree is still in the outbox"); continue }
            let holders = try store.holders(letterID: id)
            let closedOn: String
            if holders.isEmpty {
                guard let date = letter?.date else { keep("its header cannot be read"); continue }
                closedOn = date
            } else {
                let open = holders.filter { $0.status != "done" }
                if !open.isEmpty { keep("open: \(open.count) disposition holder(s) not done (\(open.map(\.holder).prefix(3).joined(separator: ", ")))"); continue }
                let last = holders.compactMap { $0.statusAt.flatMap(Timestamp.init(text:)) }.max()
                closedOn = last.map(calendar.day(of:)) ?? letter?.date ?? today
            }
            let years = retention.years(for: classification)
            guard let until = calendar.adding(years: years, to: closedOn) else { keep("closing date '\(closedOn)' is not a date"); continue }
            if today < until {
                keep("retention: kept until \(until) (\(classification): \(years) year(s) after closing on \(closedOn))", closed: closedOn, until: until)
                continue
            }
            if delete { try store.deleteTree(seqs: tree.map(\.seq), letterID: id) }
            decisions.append(Decision(letterID: id, agendaNumber: number, classification: classification, closedOn: closedOn,
                                      keepUntil: until, messages: tree.count, prune: true,
                                      reason: "closed \(closedOn), \(classification) kept \(years) year(s) until \(until), archived"))
        }
        let letters = try store.db.queryOne("SELECT COUNT(*) FROM messages WHERE kind = 'letter'") { Int($0.int(0)) } ?? 0
        let remainingCandidates = delete ? candidates.count - decisions.filter(\.prune).count : candidates.count
        return Outcome(decisions: decisions, notExported: letters - remainingCandidates, dryRun: !delete)
    }

    /// SHA-256 (hex) of a whole file, read in 1 MiB chunks; nil when it cannot be read.
    static func fileSHA256(path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hash = SHA256Stream()
        while true {
            // nil or empty at the end of the file; a read error means "cannot vouch for it".
            let chunk: Data?
            do { chunk = try handle.read(upToCount: 1 << 20) } catch { return nil }
            guard let chunk, !chunk.isEmpty else { break }
            hash.update(chunk)
        }
        return hash.digest().hexString
    }
}
