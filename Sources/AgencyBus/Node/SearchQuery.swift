/// Turns what a clerk types into an FTS5 query string.
///
/// Plain words just work: every word is quoted as an FTS5 phrase, so punctuation inside a
/// word cannot be misread as syntax (`e-office` becomes `"e-office"`, the phrase *e office*;
/// `B/045/555/III/2026` the phrase of its parts). FTS5's own syntax is kept where it is
/// unambiguous: `"quoted phrases"`, `AND`, `OR`, `NOT` (upper case, as in FTS5), `NEAR(…)`,
/// parentheses (and the `, N` distance of NEAR), a trailing `*` for a prefix (`layan*`), `^` for "at the start of a column",
/// and `column:` filters on the indexed columns (`subject:`, `body:`, `number:`, `sender:`,
/// `notes:`, `attachments:`). Words are joined by FTS5's implicit AND.
///
/// A query that is still not valid FTS5 (an unbalanced parenthesis or quote, an operator with
/// nothing after it) is reported by SQLite when it runs; the store turns that into a clear
/// error. Pure: no I/O.
public enum SearchQuery {
    public static let columns: Set<String> = ["subject", "body", "number", "sender", "notes", "attachments"]

    public static func translate(_ input: String) -> String {
        var out: [String] = []
        let s = Array(input.unicodeScalars)
        var i = 0
        var depth = 0, nearDepth = -1
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }
        while i < s.count {
            let c = s[i]
            if isSpace(c) { i += 1; continue }
            if c == "(" {
                if out.last == "NEAR" { nearDepth = depth + 1 }
                depth += 1
                out.append("("); i += 1; continue
            }
            if c == ")" {
                if depth == nearDepth { nearDepth = -1 }
                depth -= 1
                out.append(")"); i += 1; continue
            }
            // A comma means something only inside NEAR( … , N ); elsewhere it separates words.
            if c == "," { if nearDepth >= 0 && depth == nearDepth { out.append(",") }; i += 1; continue }
            if c == "\"" {
                // A quoted phrase, copied with its FTS5 escapes ("" inside); unbalanced → closed.
                var j = i + 1
                var text = "\""
                while j < s.count {
                    if s[j] == "\"" {
                        if j + 1 < s.count && s[j + 1] == "\"" { text += "\"\""; j += 2; continue }
                        break
                    }
                    text.unicodeScalars.append(s[j]); j += 1
                }
                text += "\""
                i = j + 1
                if i < s.count && s[i] == "*" { text += " *"; i += 1 }
                out.append(text)
                continue
            }
            // A bare word: up to whitespace, a parenthesis or a quote.
            var j = i
            var word = ""
            while j < s.count && !isSpace(s[j]) && s[j] != "(" && s[j] != ")" && s[j] != "\"" && s[j] != "," {
                word.unicodeScalars.append(s[j]); j += 1
            }
            i = j
            if word == "AND" || word == "OR" || word == "NOT" { out.append(word); continue }
            if word == "NEAR" && i < s.count && s[i] == "(" { out.append(word); continue }
            // The distance of NEAR(a b, 10) stays a number.
            if out.last == ",", word.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) { out.append(word); continue }
            out.append(term(word))
        }
        // NEAR( must touch its parenthesis.
        var text = ""
        for (k, part) in out.enumerated() {
            if k > 0 && !(out[k - 1] == "NEAR" && part == "(") && !(out[k - 1] == "(") && part != ")" && part != "," { text += " " }
            text += part
        }
        return text
    }

    /// One bare word as a quoted phrase, keeping a column filter, a leading `^`, a trailing `*`.
    static func term(_ word: String) -> String {
        var w = Substring(word)
        var prefix = ""
        if let colon = w.firstIndex(of: ":"), columns.contains(String(w[..<colon])), w.index(after: colon) < w.endIndex {
            prefix = String(w[...colon]) + " "
            w = w[w.index(after: colon)...]
        }
        if w.hasPrefix("^") && w.count > 1 { prefix += "^"; w = w.dropFirst() }
        var star = ""
        if w.hasSuffix("*") && w.count > 1 { star = " *"; w = w.dropLast() }
        return prefix + "\"" + w.replacingOccurrences(of: "\"", with: "\"\"") + "\"" + star
    }
}

extension Substring {
    fileprivate func replacingOccurrences(of a: String, with b: String) -> String {
        String(self).split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
