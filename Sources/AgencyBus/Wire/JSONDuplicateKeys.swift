import Foundation

/// Finds an object key that appears twice in the same JSON object.
///
/// Why: a signed header must mean one thing to every reader. Foundation's decoder keeps the
/// first of two equal keys, Python, Go, JavaScript and jq keep the last; a header with
/// `"to"` twice would be routed by the broker to one agency and read by an auditor's script
/// as addressed to another, under one valid signature. So headers with a duplicate key are
/// refused (`Envelope.init`), whatever their kind.
///
/// Keys are compared after unescaping (`"to"` and `"\u0074o"` are the same key). The scan is
/// linear, iterative (no recursion, any nesting depth) and never traps on malformed input: it
/// only looks for duplicates, and leaves validating the JSON to the decoder.
enum JSONDuplicateKeys {
    /// The first duplicated key (unescaped), or nil when every object's keys are distinct.
    static func first(in data: Data) -> String? {
        data.withUnsafeBytes { raw -> String? in
            let b = raw.bindMemory(to: UInt8.self)
            var objects: [Set<[UInt8]>?] = []   // one entry per open container; nil = an array
            var expectKey = false
            var i = 0
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "{"):
                    objects.append([]); expectKey = true; i += 1
                case UInt8(ascii: "["):
                    objects.append(nil); expectKey = false; i += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if !objects.isEmpty { objects.removeLast() }
                    expectKey = false; i += 1
                case UInt8(ascii: ","):
                    expectKey = (objects.last ?? nil) != nil; i += 1
                case UInt8(ascii: "\""):
                    guard let (text, end) = string(b, openingQuote: i) else { return nil }
                    if expectKey, let last = objects.indices.last, objects[last] != nil {
                        if !objects[last]!.insert(text).inserted { return String(decoding: text, as: UTF8.self) }
                        expectKey = false
                    }
                    i = end
                default:
                    i += 1  // ':', numbers, literals, whitespace
                }
            }
            return nil
        }
    }

    /// The unescaped bytes of the string starting at `openingQuote`, and the index after its
    /// closing quote; nil when it is not terminated.
    private static func string(_ b: UnsafeBufferPointer<UInt8>, openingQuote: Int) -> ([UInt8], Int)? {
        var out: [UInt8] = []
        var i = openingQuote + 1
        var pendingHigh: UInt32?
        func append(scalar: UInt32) {
            // UTF-8 of any code point, lone surrogates included (they only need to compare).
            switch scalar {
            case 0..<0x80: out.append(UInt8(scalar))
            case 0x80..<0x800: out += [UInt8(0xC0 | scalar >> 6), UInt8(0x80 | scalar & 0x3F)]
            case 0x800..<0x10000: out += [UInt8(0xE0 | scalar >> 12), UInt8(0x80 | scalar >> 6 & 0x3F), UInt8(0x80 | scalar & 0x3F)]
            default: out += [UInt8(0xF0 | scalar >> 18), UInt8(0x80 | scalar >> 12 & 0x3F), UInt8(0x80 | scalar >> 6 & 0x3F), UInt8(0x80 | scalar & 0x3F)]
            }
        }
        func flushHigh() { if let h = pendingHigh { append(scalar: h); pendingHigh = nil } }
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") { flushHigh(); return (out, i + 1) }
            if c != UInt8(ascii: "\\") { flushHigh(); out.append(c); i += 1; continue }
            guard i + 1 < b.count else { return nil }
            let e = b[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "u"):
                guard i + 4 <= b.count, let unit = UInt32(String(decoding: UnsafeBufferPointer(rebasing: b[i..<i + 4]), as: UTF8.self), radix: 16)
                else { return nil }
                i += 4
                if (0xDC00...0xDFFF).contains(unit), let high = pendingHigh {
                    pendingHigh = nil
                    append(scalar: 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00))
                } else {
                    flushHigh()
                    if (0xD800...0xDBFF).contains(unit) { pendingHigh = unit } else { append(scalar: unit) }
                }
            default:
                flushHigh()
                let simple: [UInt8: UInt8] = [UInt8(ascii: "n"): 0x0A, UInt8(ascii: "t"): 0x09, UInt8(ascii: "r"): 0x0D,
                                              UInt8(ascii: "b"): 0x08, UInt8(ascii: "f"): 0x0C]
                out.append(simple[e] ?? e)  // \" \\ \/ stand for themselves
            }
        }
        return nil
    }
}
