import CSodium
import Foundation

/// libsodium must be initialised once per process before any other call; `sodium_init`
/// is idempotent and thread-safe ("can be called multiple times"), so a lazy global is enough.
enum Sodium {
    static let ready: Bool = {
        // sodium_init returns 0 on success, 1 if already initialised, -1 on failure.
        precondition(sodium_init() >= 0, "libsodium failed to initialise (sodium_init < 0)")
        return true
    }()

    static func ensureReady() { _ = ready }
}

extension Data {
    /// Lowercase hexadecimal, as used for digests in headers and JSON output.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses lowercase or uppercase hexadecimal; nil on odd length or a non-hex digit.
    public init?(hexString: String) {
        let chars = Array(hexString.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = Data(capacity: chars.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self = out
    }
}
