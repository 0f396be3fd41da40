import Foundation

/// Checks an archive file offline: no node, broker or topology needed, the keys come from the
/// file. Reads the file once, line by line, and reports every problem with the line, the
/// item (type, id, kind) and the check that failed:
///
/// - each line is JSON of a known type; the first is the archive header, the last the manifest;
/// - each line's SHA-256 equals the manifest's, the manifest lists every line and no other,
///   and `archiveSha256` equals the hash of everything before the manifest;
/// - each message decodes, its id and kind are those of its signed header, its Ed25519
///   signature verifies with its signer's key from the file, and (letters) each attachment
///   has the size and SHA-256 the signed header gives;
/// - each evidence (acceptance, receipt) verifies with its signer's key, and names the
///   archived messages with their exact header hashes;
/// - nothing is missing: the letter of every archived disposition and status update is in
///   the file, and the counts in the header match.
///
/// With `trusted` keys (e.g. from a topology), each key in the file must also equal the
/// trusted key of that signer, which ties the archive to keys the checker already trusts.
public enum ArchiveVerifier {
    public struct Problem: Sendable, CustomStringConvertible, Equatable {
        /// 1-based line of the file; nil when the problem concerns the whole file.
        public let line: Int?
        /// What the line holds: `message 01KJ… (letter)`, `key kemenpanrb`, `manifest`.
        public let item: String
        /// The check that failed: json, format, sha256, manifest, signature, attachment, key,
        /// id, evidence, missing.
        public let check: String
        public let detail: String

        public var description: String {
            (line.map { "line \($0): " } ?? "") + "\(item): \(check): \(detail)"
        }
    }

    public struct Result: Sendable {
        public var problems: [Problem] = []
        public var agency: String?
        public var year: Int?
        public var letters = 0
        public var messages = 0
        public var evidence = 0
        public var keys: [(role: String, id: String, publicKey: String)] = []
        public var lines = 0
        /// SHA-256 of the whole file, as `archive export` printed and the node recorded it.
        public var fileSHA256 = ""
        /// SHA-256 of the manifest line.
        public var manifestSHA256: String?
        public var intact: Bool { problems.isEmpty }
    }

    private struct LineInfo { let hash: String; let type: String; let id: String }

    public static func verify(path: String, trusted: ((_ role: String, _ id: String) -> Set<String>)? = nil) throws -> Result {
        var result = Result()
        var reader = try ArchiveLineReader(path: path)
        defer { reader.close() }
        var fileHash = SHA256Stream()
        var beforeManifest = SHA256Stream()
        var infos: [LineInfo] = []
        // "role:id" → its keys: the current one (no `retired`) and any rotated out, which verify
        // only what was created up to their `retired` time.
        var keys: [String: [(key: PublicKey, retired: Timestamp?)]] = [:]
        func signingKeys(_ signer: String, created: String) -> [PublicKey] {
            (keys[signer] ?? []).filter { Topology.keyMaySign(retired: $0.retired, created: created) }.map(\.key)
        }
        var messageHashes: [String: String] = [:]  // id → header sha256 hex
        var letters = Set<String>()
        var references: [(line: Int, item: String, letter: String)] = []
        var evidenceItems: [(line: Int, item: String, items: [(id: String, sha256: String)])] = []
        var header: [String: Any]?
        var manifest: (line: Int, object: [String: Any])?
        var lineNumber = 0

        func problem(_ line: Int?, _ item: String, _ check: String, _ detail: String) {
            result.problems.append(Problem(line: line, item: item, check: check, detail: detail))
        }

        while let (bytes, terminated) = try reader.next() {
            lineNumber += 1
            fileHash.update(bytes)
            if terminated { fileHash.update(Data([0x0A])) }
            let hash = SHA256.hash(bytes).hexString
            if let m = manifest {
                // Something after what looked like the manifest: that line was not the last.
                problem(m.line, "manifest", "format", "the manifest is not the last line (line \(lineNumber) follows it)")
                manifest = nil
            }
            guard let object = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] else {
                problem(lineNumber, "line", "json", "not a JSON object (the line is damaged)")
                infos.append(LineInfo(hash: hash, type: "?", id: ""))
                beforeManifest.update(bytes); beforeManifest.update(Data([0x0A]))
                continue
            }
            let type = object["type"] as? String ?? "?"
            let id = ArchiveFormat.id(of: object)
            if type == "manifest" {
                manifest = (lineNumber, object)
                result.manifestSHA256 = hash
                if !terminated { problem(lineNumber, "manifest", "format", "the last line does not end with a newline") }
                continue
            }
            beforeManifest.update(bytes); beforeManifest.update(Data([0x0A]))
            if !terminated { problem(lineNumber, "line", "format", "the file ends without a newline: it was cut off") }
            infos.append(LineInfo(hash: hash, type: type, id: id))
            switch type {
            case "archive":
                if lineNumber != 1 { problem(lineNumber, "archive", "format", "a second archive header") }
                guard object["format"] as? String == ArchiveFormat.name, object["version"] as? Int == ArchiveFormat.version else {
                    problem(lineNumber, "archive", "format", "not an \(ArchiveFormat.name) version \(ArchiveFormat.version) header")
                    continue
                }
                header = object
                result.agency = object["agency"] as? String
                result.year = object["year"] as? Int
            case "key":
                let role = object["role"] as? String ?? ""
                let label = ArchiveFormat.label(type: "key", id: id)
                guard role == "agency" || role == "broker", !id.isEmpty, let text = object["publicKey"] as? String else {
                    problem(lineNumber, label, "key", "needs role (agency or broker), id and publicKey"); continue
                }
                guard let key = try? PublicKey(text: text) else { problem(lineNumber, label, "key", "publicKey is not a valid ed25519 key"); continue }
                var retired: Timestamp?
                if let r = object["retired"] {
                    guard let t = (r as? String).flatMap(Timestamp.init(text:)) else {
                        problem(lineNumber, label, "key", "retired is not an RFC 3339 UTC time"); continue
                    }
                    retired = t
                }
                if retired == nil, keys["\(role):\(id)"]?.contains(where: { $0.retired == nil && $0.key != key }) == true {
                    problem(lineNumber, label, "key", "a second, different current key for the same \(role)"); continue
                }
                if let trusted {
                    let expected = trusted(role, id)
                    if expected.isEmpty {
                        problem(lineNumber, label, "key", "\(role) '\(id)' has no key in the trusted topology")
                    } else if !expected.contains(text) {
                        problem(lineNumber, label, "key", "differs from the trusted keys of \(role) '\(id)'")
                    }
                }
                keys["\(role):\(id)", default: []].append((key, retired))
                result.keys.append((role, id, text))
            case "message":
                result.messages += 1
                let kind = object["kind"] as? String ?? ""
                let label = ArchiveFormat.label(type: "message", id: id, kind: kind)
                guard let envelope = decodeEnvelope(object, line: lineNumber, label: label, problem: problem) else { continue }
                if envelope.id != id { problem(lineNumber, label, "id", "the signed header's id is \(envelope.id)") }
                if envelope.kind != kind { problem(lineNumber, label, "id", "the signed header's kind is \(envelope.kind)") }
                let signerKeys = signingKeys("agency:\(envelope.signerID)", created: envelope.common.created)
                guard !signerKeys.isEmpty else {
                    problem(lineNumber, label, "signature", "no key for signer '\(envelope.signerID)' in the archive (its key line is missing or damaged)")
                    continue
                }
                do { try envelope.verify(withAnyOf: signerKeys) } catch let e as ProtocolError {
                    problem(lineNumber, label, e.code == .badSignature && e.reason.hasPrefix("attachments") ? "attachment" : "signature", e.reason)
                    continue
                } catch {
                    problem(lineNumber, label, "signature", "\(error)"); continue
                }
                messageHashes[envelope.id] = envelope.hash.hexString
                switch envelope.kind {
                case "letter": letters.insert(envelope.id); result.letters += 1
                case "disposition":
                    if let d = try? envelope.decode(Disposition.self) { references.append((lineNumber, label, d.letter)) }
                case "status":
                    if let st = try? envelope.decode(StatusUpdate.self) { references.append((lineNumber, label, st.letter)) }
                default: break
                }
            case "evidence":
                result.evidence += 1
                let kind = object["kind"] as? String ?? ""
                let label = ArchiveFormat.label(type: "evidence", id: id, kind: kind)
                guard let envelope = decodeEnvelope(object, line: lineNumber, label: label, problem: problem) else { continue }
                if envelope.id != id { problem(lineNumber, label, "id", "the signed header's id is \(envelope.id)") }
                let role = envelope.kind == "acceptance" ? "broker" : "agency"
                let signerKeys = signingKeys("\(role):\(envelope.signerID)", created: envelope.common.created)
                guard !signerKeys.isEmpty else {
                    problem(lineNumber, label, "signature", "no key for \(role) '\(envelope.signerID)' in the archive"); continue
                }
                guard signerKeys.contains(where: { $0.verify(signature: envelope.signature, of: envelope.header) }) else {
                    problem(lineNumber, label, "signature", "does not verify with \(envelope.signerID)'s key"); continue
                }
                struct Items: Decodable { struct Item: Decodable { let id: String; let sha256: String }; let items: [Item] }
                if let items = try? JSONDecoder().decode(Items.self, from: envelope.header) {
                    evidenceItems.append((lineNumber, label, items.items.map { ($0.id, $0.sha256.lowercased()) }))
                }
            default:
                problem(lineNumber, ArchiveFormat.label(type: type, id: id), "format", "unknown line type '\(type)'")
            }
        }
        result.lines = lineNumber
        result.fileSHA256 = fileHash.digest().hexString

        if lineNumber == 0 { problem(nil, "archive", "format", "the file is empty"); return result }
        if header == nil && !result.problems.contains(where: { $0.line == 1 }) {
            problem(1, "archive", "format", "the first line is not the archive header")
        }

        // The manifest: every line listed with its hash, nothing more, nothing less. The
        // manifest line itself is covered by no hash, so a disagreement is blamed on the side
        // the evidence points to: when `archiveSha256` still matches everything before the
        // manifest, those lines are exactly as written and the manifest was changed; otherwise
        // the lines that differ from their entries were.
        if let m = manifest {
            let entries = m.object["entries"] as? [[String: Any]] ?? []
            let whole = beforeManifest.digest().hexString
            let claimedWhole = m.object["archiveSha256"] as? String
            var disagreements: [(line: Int, label: String, check: String, detail: String)] = []
            var manifestProblems: [String] = []
            if m.object["count"] as? Int != entries.count { manifestProblems.append("count does not match its entries") }
            if claimedWhole == nil { manifestProblems.append("archiveSha256 is missing") }
            var listed = Set<Int>()
            for entry in entries {
                guard let line = entry["line"] as? Int, let sha = entry["sha256"] as? String else {
                    manifestProblems.append("an entry without line and sha256"); continue
                }
                listed.insert(line)
                let label = ArchiveFormat.label(type: entry["type"] as? String ?? "?", id: entry["id"] as? String)
                guard line >= 1 && line <= infos.count else {
                    disagreements.append((line, label, "missing", "listed in the manifest but not in the file")); continue
                }
                let info = infos[line - 1]
                if info.hash != sha {
                    disagreements.append((line, label, "sha256", "the line's SHA-256 differs from the manifest's"))
                }
                if info.type != "?" && (info.type != entry["type"] as? String || info.id != (entry["id"] as? String ?? "")) {
                    disagreements.append((line, label, "manifest",
                                          "the manifest lists \(label) here but the line holds \(ArchiveFormat.label(type: info.type, id: info.id))"))
                }
            }
            for (i, info) in infos.enumerated() where !listed.contains(i + 1) {
                disagreements.append((i + 1, ArchiveFormat.label(type: info.type, id: info.id), "manifest", "not listed in the manifest"))
            }
            if claimedWhole == whole {
                // The lines are intact (their joint hash matches): every disagreement is the manifest's.
                for d in disagreements {
                    manifestProblems.append("its entry for line \(d.line) (\(d.label)) does not match that line: \(d.detail)")
                }
            } else if let claimedWhole {
                if disagreements.isEmpty {
                    // Every line matches its own entry, so the lines are intact and it is the
                    // manifest's archiveSha256 that was changed.
                    manifestProblems.append("archiveSha256 \(claimedWhole.prefix(12))… is not the hash of the lines, which all match their entries")
                } else {
                    problem(nil, "archive", "sha256", "archiveSha256 in the manifest differs: the file before the manifest was changed")
                    for d in disagreements {
                        problem(d.line, d.label, d.check, d.check == "sha256" ? d.detail + " (the line was changed)" : d.detail)
                    }
                }
            } else {
                for d in disagreements { problem(d.line, d.label, d.check, d.detail) }
            }
            for text in manifestProblems { problem(m.line, "manifest", "manifest", text) }
        } else if let last = infos.last, !["archive", "key", "message", "evidence"].contains(last.type) {
            // The last line is neither the manifest nor any other known line: the damaged manifest.
            problem(lineNumber, "manifest", "missing", "the last line should be the manifest but cannot be read (damaged)")
        } else {
            problem(nil, "manifest", "missing", "the file does not end with its manifest (cut off, or the manifest line is damaged)")
        }

        // Completeness and cross-references.
        for r in references where !letters.contains(r.letter) {
            problem(r.line, r.item, "missing", "its letter \(r.letter) is not in the archive (or did not verify)")
        }
        for e in evidenceItems {
            for item in e.items {
                if let h = messageHashes[item.id], h != item.sha256 {
                    problem(e.line, e.item, "evidence", "names \(item.id) with another header hash than the archived message")
                }
            }
        }
        if let header {
            for (field, actual) in [("messages", result.messages), ("evidence", result.evidence), ("keys", result.keys.count), ("letters", result.letters)] {
                if let expected = header[field] as? Int, expected != actual {
                    problem(1, "archive", "missing", "the header announces \(field): \(expected); the file holds \(actual) that verify")
                }
            }
        }
        return result
    }

    /// The envelope of a message or evidence line (base64 header, signature, attachments).
    private static func decodeEnvelope(_ object: [String: Any], line: Int, label: String,
                                       problem: (Int?, String, String, String) -> Void) -> Envelope? {
        guard let h = object["header"] as? String, let header = Data(base64Encoded: h) else {
            problem(line, label, "format", "header is not base64"); return nil
        }
        guard let s = object["signature"] as? String, let signature = Data(base64Encoded: s) else {
            problem(line, label, "format", "signature is not base64"); return nil
        }
        var attachments: [Data] = []
        for (i, a) in (object["attachments"] as? [String] ?? []).enumerated() {
            guard let data = Data(base64Encoded: a) else { problem(line, label, "attachment", "attachments[\(i)] is not base64"); return nil }
            attachments.append(data)
        }
        do { return try Envelope(header: header, signature: signature, attachments: attachments) } catch let e as ProtocolError {
            problem(line, label, "signature", "the signed header is damaged: \(e.reason)"); return nil
        } catch {
            problem(line, label, "signature", "the signed header is damaged: \(error)"); return nil
        }
    }
}
