import Foundation

/// Writes the archive of one year (`bus-cli archive export`): the letters with an agenda
/// number of that year, every disposition and status update on them, the broker acceptances
/// and recipients' receipts naming them, the public keys of every signer, and the manifest
/// (format: `ArchiveFormat`, docs/registry.md).
///
/// The file is written next to its destination under a temporary name, flushed to disk,
/// read back and checked by `ArchiveVerifier`; only an intact file is renamed into place and
/// recorded in the node (`archive_exports`, `archive_items`), so `archive prune` knows what
/// a verified archive holds. Nothing is recorded, and no file is left, when anything fails.
public struct ArchiveWriter {
    public struct Summary: Sendable {
        public let path: String
        public let year: Int
        public let letters: Int
        public let messages: Int
        public let evidence: Int
        public let keys: Int
        public let fileSHA256: String
        public let manifestSHA256: String
        public let bytes: Int64
    }

    let node: AgencyNode

    public init(node: AgencyNode) { self.node = node }

    public func export(year: Int, to path: String, overwrite: Bool = false) throws -> Summary {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) && !overwrite {
            throw NodeError.data("--out: '\(path)' already exists; an archive is never overwritten by accident (choose another name, or add --force)")
        }
        let store = node.store
        let ids = try store.archiveSelection(year: year)
        let letters = try store.db.queryOne("""
            SELECT COUNT(*) FROM messages WHERE kind = 'letter' AND id IN (SELECT message_id FROM agenda WHERE year = ?)
            """, year) { Int($0.int(0)) } ?? 0
        guard letters > 0 else {
            throw NodeError.data("--year: \(node.agency) has no letter with an agenda number of \(year) in \(node.directory) (nothing to export)")
        }
        let idSet = Set(ids)
        let evidence = try store.evidence(naming: idSet)

        // Every signer needs its key in the file; without it the archive could not be checked.
        var signers = Set<String>()  // "role:id"
        for id in ids { if let s = try store.message(id: id)?.sender { signers.insert("agency:" + (s.split(separator: "/").first.map(String.init) ?? s)) } }
        for e in evidence { signers.insert((e.kind == "acceptance" ? "broker:" : "agency:") + e.signer) }
        var keys: [(role: String, id: String, key: String, retired: String?)] = []
        for signer in signers.sorted() {
            let parts = signer.split(separator: ":", maxSplits: 1).map(String.init)
            let key = parts[0] == "broker" ? node.topology.broker(parts[1])?.publicKey : node.topology.agency(parts[1])?.publicKey
            guard let key, !key.isEmpty else {
                throw NodeError.data("the topology \(node.config.topology) has no publicKey for \(parts[0]) '\(parts[1])', which signed items of \(year); add it (revoked keys stay listed) and export again")
            }
            keys.append((parts[0], parts[1], key, nil))
            // Keys rotated out (bus-cli rekey) still verify what they signed before retiring.
            if parts[0] == "agency" {
                for f in node.topology.agency(parts[1])?.formerKeys ?? [] { keys.append((parts[0], parts[1], f.publicKey, f.retired)) }
            }
        }

        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).partial-\(getpid())"
        guard fm.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: temporary) else {
            throw NodeError.data("--out: cannot create '\(path)' (does the directory exist and may we write there?)")
        }
        var done = false
        defer {
            try? handle.close()
            if !done { try? fm.removeItem(atPath: temporary) }
        }

        var entries: [[String: Any]] = []
        var beforeManifest = SHA256Stream()
        var bytes: Int64 = 0
        func write(_ object: [String: Any]) throws {
            let line = try ArchiveFormat.line(object)
            entries.append(["line": entries.count + 1, "type": object["type"] as? String ?? "", "id": ArchiveFormat.id(of: object),
                            "sha256": SHA256.hash(line).hexString])
            beforeManifest.update(line); beforeManifest.update(Data([0x0A]))
            try handle.write(contentsOf: line + Data([0x0A]))
            bytes += Int64(line.count + 1)
        }

        try write(["type": "archive", "format": ArchiveFormat.name, "version": ArchiveFormat.version, "agency": node.agency,
                   "year": year, "timeZone": store.calendar.zoneName, "exportedAt": Timestamp.now().text,
                   "letters": letters, "messages": ids.count, "evidence": evidence.count, "keys": keys.count])
        for k in keys {
            var line: [String: Any] = ["type": "key", "role": k.role, "id": k.id, "publicKey": k.key]
            if let retired = k.retired { line["retired"] = retired }
            try write(line)
        }
        var items: [(id: String, hash: Data)] = []
        for id in ids {
            guard let m = try store.archivedMessage(id: id) else { continue }
            var o: [String: Any] = [
                "type": "message", "id": id, "kind": m.summary.kind, "direction": m.summary.direction, "state": m.summary.state,
                "storedAt": Timestamp(milliseconds: m.summary.storedAt).text, "header": m.envelope.header.base64EncodedString(),
                "signature": m.envelope.signature.base64EncodedString(),
                "attachments": m.envelope.attachments.map { $0.base64EncodedString() },
                "agendaNumbers": m.agendaNumbers.map(\.text),
            ]
            if let r = m.summary.receivedAt { o["receivedAt"] = Timestamp(milliseconds: r).text }
            if let a = m.summary.acceptedAt { o["acceptedAt"] = a }
            if let reason = m.summary.stateReason { o["stateReason"] = reason }
            if !m.deliveries.isEmpty {
                o["deliveries"] = m.deliveries.map { d -> [String: Any] in
                    var x: [String: Any] = ["recipient": d.recipient, "status": d.state]
                    if let r = d.reason { x["reason"] = r }
                    if let at = d.at { x["at"] = at }
                    return x
                }
            }
            try write(o)
            items.append((id, m.envelope.hash))
        }
        for e in evidence {
            try write(["type": "evidence", "id": e.id, "kind": e.kind, "signer": e.signer,
                       "receivedAt": Timestamp(milliseconds: e.receivedAt).text,
                       "header": e.header.base64EncodedString(), "signature": e.signature.base64EncodedString()])
        }
        let manifest = try ArchiveFormat.line(["type": "manifest", "count": entries.count, "entries": entries,
                                               "archiveSha256": beforeManifest.digest().hexString])
        try handle.write(contentsOf: manifest + Data([0x0A]))
        bytes += Int64(manifest.count + 1)
        try handle.synchronize()  // fsync: the file is on disk before it is checked and recorded
        try handle.close()

        let check = try ArchiveVerifier.verify(path: temporary)
        guard check.intact else {
            throw NodeError.data("the archive of \(year) did not verify after writing, so it was not kept:\n"
                                 + check.problems.prefix(20).map { "  \($0)" }.joined(separator: "\n"))
        }
        // rename(2) replaces an existing file atomically (--force).
        guard rename(temporary, path) == 0 else {
            throw NodeError.data("--out: cannot move the archive into '\(path)' (errno \(errno))")
        }
        done = true
        Self.syncDirectory(directory.isEmpty ? "." : directory)
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        try store.recordExport(year: year, path: absolute, fileSHA256: check.fileSHA256, items: items, verified: true)
        return Summary(path: absolute, year: year, letters: letters, messages: ids.count, evidence: evidence.count, keys: keys.count,
                       fileSHA256: check.fileSHA256, manifestSHA256: check.manifestSHA256 ?? "", bytes: bytes)
    }

    /// fsync the directory so the rename itself survives a power cut.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
