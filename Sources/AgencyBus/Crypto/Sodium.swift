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

/// SHA-256 digests (libsodium's `crypto_hash_sha256`).
public enum SHA256 {
    public static func hash(_ data: Data) -> Data {
        Sodium.ensureReady()
        var out = Data(count: Int(crypto_hash_sha256_BYTES))
        out.withUnsafeMutableBytes { o in
            data.withUnsafeBytes { i in
                _ = crypto_hash_sha256(o.bindMemory(to: UInt8.self).baseAddress!,
                                       i.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer(bitPattern: 1)!,
                                       UInt64(data.count))
            }
        }
        return out
    }

    /// Streams a file through SHA-256 in 1 MiB chunks so large attachments are never held twice.
    public static func hash(fileAt url: URL) throws -> (digest: Data, size: Int) {
        Sodium.ensureReady()
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var state = crypto_hash_sha256_state()
        crypto_hash_sha256_init(&state)
        var size = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            size += chunk.count
            chunk.withUnsafeBytes { i in
                _ = crypto_hash_sha256_update(&state, i.bindMemory(to: UInt8.self).baseAddress!, UInt64(chunk.count))
            }
        }
        var out = Data(count: Int(crypto_hash_sha256_BYTES))
        out.withUnsafeMutableBytes { o in
            _ = crypto_hash_sha256_final(&state, o.bindMemory(to: UInt8.self).baseAddress!)
        }
        return (out, size)
    }
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
