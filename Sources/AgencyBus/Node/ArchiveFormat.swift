import Foundation

/// The archive file (`bus-cli archive export`), version 1; docs/registry.md is its full
/// description. In short: UTF-8 JSON Lines, one compact object per line (keys sorted), each
/// line ended by `\n`:
///
/// 1. `{"type":"archive", "format":"agencybus-archive", "version":1, "agency", "year",
///    "timeZone", "exportedAt", "letters", "messages", "evidence", "keys"}`
/// 2. one `{"type":"key", "role":"agency"|"broker", "id", "publicKey"}` per signer,
/// 3. one `{"type":"message", "id", "kind", "direction", "header", "signature",
///    "attachments", …}` per letter, disposition and status update (bytes in base64, exactly
///    as signed and stored),
/// 4. one `{"type":"evidence", "id", "kind", "signer", "header", "signature", …}` per broker
///    acceptance or recipient receipt naming an archived message,
/// 5. last, `{"type":"manifest", "count", "entries":[{"line","type","id","sha256"}…],
///    "archiveSha256"}`: the SHA-256 of every line before it (its bytes without the `\n`),
///    and of all those bytes together (newlines included).
public enum ArchiveFormat {
    public static let name = "agencybus-archive"
    public static let version = 1

    /// The line as written: JSON, compact, keys sorted, slashes not escaped.
    static func line(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The identity of a line, as its manifest entry records it: the agency for the archive
    /// header (which has no `id` field), `id` for every other line. The writer and the
    /// verifier both take it from here, so they cannot disagree on what a line holds.
    static func id(of object: [String: Any]) -> String {
        if object["type"] as? String == "archive" { return object["agency"] as? String ?? "" }
        return object["id"] as? String ?? ""
    }

    /// What a line is, for reports: `message 01KJ… (letter)`, `key kemenpanrb`, `manifest`.
    static func label(type: String, id: String?, kind: String? = nil) -> String {
        var text = type
        if let id, !id.isEmpty { text += " \(id)" }
        if let kind, !kind.isEmpty { text += " (\(kind))" }
        return text
    }
}
