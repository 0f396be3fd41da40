import CSodium
import Foundation

/// Message ids are ULIDs: 48 bits of milliseconds since the epoch, then 80 random bits,
/// in Crockford base32 (26 characters, e.g. `01JDX5M8ZQ4T0J6W3V9B2K7C1N`). They sort by
/// creation time, and the id sits inside the signed bytes, so a signed message cannot be
/// replayed under another id.
public enum MessageID {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func generate(at time: Timestamp = .now()) -> String {
        Sodium.ensureReady()
        var random = [UInt8](repeating: 0, count: 10)
        randombytes_buf(&random, 10)
        var bytes = [UInt8](repeating: 0, count: 16)
        let ms = UInt64(max(0, time.milliseconds))
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: ms >> (8 * (5 - i))) }
        for i in 0..<10 { bytes[6 + i] = random[i] }
        // 128 bits → 26 base32 digits (the first digit carries 3 bits).
        var out = [UInt8](repeating: 0, count: 26)
        var acc = (UInt64(bytes[0]) << 56 | UInt64(bytes[1]) << 48 | UInt64(bytes[2]) << 40 | UInt64(bytes[3]) << 32
                   | UInt64(bytes[4]) << 24 | UInt64(bytes[5]) << 16 | UInt64(bytes[6]) << 8 | UInt64(bytes[7]))
        var lo = (UInt64(bytes[8]) << 56 | UInt64(bytes[9]) << 48 | UInt64(bytes[10]) << 40 | UInt64(bytes[11]) << 32
                  | UInt64(bytes[12]) << 24 | UInt64(bytes[13]) << 16 | UInt64(bytes[14]) << 8 | UInt64(bytes[15]))
        for i in stride(from: 25, through: 0, by: -1) {
            out[i] = alphabet[Int(lo & 31)]
            lo = (lo >> 5) | ((acc & 31) << 59)
            acc >>= 5
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True for a well-formed ULID text (26 Crockford base32 upper-case digits, first ≤ '7').
    public static func isValid(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count == 26, b[0] >= 48, b[0] <= 55 else { return false }
        return b.allSatisfy { alphabet.contains($0) }
    }

    /// The creation time encoded in a ULID.
    public static func timestamp(of id: String) -> Timestamp? {
        guard isValid(id) else { return nil }
        var v: UInt64 = 0
        for c in id.utf8.prefix(10) {
            guard let d = alphabet.firstIndex(of: c) else { return nil }
            v = v << 5 | UInt64(d)
        }
        return Timestamp(milliseconds: Int64(v))
    }
}
