import CSodium
import Foundation

/// SHA-256 over data fed in pieces (libsodium's `crypto_hash_sha256_init/update/final`), for
/// hashing a file while it is written or read, without holding it in memory.
public struct SHA256Stream {
    private var state = crypto_hash_sha256_state()

    public init() {
        Sodium.ensureReady()
        crypto_hash_sha256_init(&state)
    }

    public mutating func update(_ data: Data) {
        guard !data.isEmpty else { return }
        data.withUnsafeBytes { i in
            _ = crypto_hash_sha256_update(&state, i.bindMemory(to: UInt8.self).baseAddress!, UInt64(data.count))
        }
    }

    /// The digest of everything fed so far (the stream can go on afterwards).
    public func digest() -> Data {
        var copy = state
        var out = Data(count: Int(crypto_hash_sha256_BYTES))
        out.withUnsafeMutableBytes { o in
            _ = crypto_hash_sha256_final(&copy, o.bindMemory(to: UInt8.self).baseAddress!)
        }
        return out
    }
}
