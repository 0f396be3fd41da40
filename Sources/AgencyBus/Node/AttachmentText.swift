import Foundation

/// The searchable text of an attachment, for the media types that are text.
///
/// Indexed: `text/plain`, `text/csv`, `text/markdown`, `text/html` and
/// `application/xhtml+xml` (tags, scripts and styles removed, common entities decoded),
/// `application/json`, `application/xml` and `text/xml` (as their text). Parameters such as
/// `; charset=…` are ignored; bytes are read as UTF-8, and as ISO-8859-1 when they are not
/// valid UTF-8 (old Windows documents). PDF, office formats and images are not indexed: the
/// node would need a document parser or OCR, which the package does not carry.
public enum AttachmentText {
    /// At most this many bytes of text per letter go into the index (8 MiB), so one huge
    /// attachment cannot make a storing transaction slow; the rest is still stored and signed.
    public static let maxIndexedBytes = 8 << 20

    static let plain: Set<String> = ["text/plain", "text/csv", "text/markdown", "application/json", "application/xml", "text/xml"]
    static let markup: Set<String> = ["text/html", "application/xhtml+xml"]

    /// True when attachments of this media type are indexed.
    public static func isIndexed(_ mediaType: String) -> Bool {
        let base = baseType(mediaType)
        return plain.contains(base) || markup.contains(base)
    }

    static func baseType(_ mediaType: String) -> String {
        (mediaType.split(separator: ";").first.map(String.init) ?? "").trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// The text to index, or nil when the type is not indexed.
    public static func text(mediaType: String, data: Data) -> String? {
        let base = baseType(mediaType)
        guard plain.contains(base) || markup.contains(base) else { return nil }
        let raw = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) ?? ""
        return markup.contains(base) ? stripTags(raw) : raw
    }

    /// HTML to plain text: drops `<script>`/`<style>` with their content and every tag, and
    /// decodes the entities a letter is likely to carry. Good enough for an index, not a renderer.
    public static func stripTags(_ html: String) -> String {
        var out = ""
        out.reserveCapacity(html.utf8.count)
        let scalars = Array(html.unicodeScalars)
        var i = 0
        func lowerWord(at j: Int, _ word: String) -> Bool {
            let w = Array(word.unicodeScalars)
            guard j + w.count <= scalars.count else { return false }
            for k in 0..<w.count where Character(scalars[j + k]).lowercased() != String(w[k]) { return false }
            return true
        }
        while i < scalars.count {
            let c = scalars[i]
            if c == "<" {
                // Skip the content of script and style elements entirely.
                for element in ["script", "style"] where lowerWord(at: i + 1, element) {
                    var j = i + 1
                    while j < scalars.count && !(scalars[j] == "<" && lowerWord(at: j + 1, "/" + element)) { j += 1 }
                    i = j
                    break
                }
                while i < scalars.count && scalars[i] != ">" { i += 1 }
                i += 1
                out.append(" ")
                continue
            }
            if c == "&" {
                var j = i + 1
                var name = ""
                while j < scalars.count && j - i <= 10 && scalars[j] != ";" && scalars[j] != "<" && scalars[j] != " " {
                    name.unicodeScalars.append(scalars[j]); j += 1
                }
                if j < scalars.count && scalars[j] == ";", let decoded = entity(name) {
                    out.append(decoded)
                    i = j + 1
                    continue
                }
            }
            out.unicodeScalars.append(c)
            i += 1
        }
        return out
    }

    static func entity(_ name: String) -> String? {
        switch name {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        case "nbsp": return " "
        default:
            if name.hasPrefix("#x") || name.hasPrefix("#X"), let v = UInt32(name.dropFirst(2), radix: 16), let s = Unicode.Scalar(v) { return String(s) }
            if name.hasPrefix("#"), let v = UInt32(name.dropFirst()), let s = Unicode.Scalar(v) { return String(s) }
            return nil
        }
    }
}
