import CCrypto
import Foundation

/// SHA-256 digests, with OpenSSL's libcrypto (EVP): it uses the CPU's SHA extensions where
/// they exist, about three times libsodium's portable code on this project's machines, and
/// every message, attachment and archive line is hashed at each hop.
public enum SHA256 {
    public static func hash(_ data: Data) -> Data {
        var stream = SHA256Stream()
        stream.update(data)
        return stream.digest()
    }

    /// Streams a file through SHA-256 in 1 MiB chunks so large attachments are never held twice.
    public static func hash(fileAt url: URL) throws -> (digest: Data, size: Int) {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var stream = SHA256Stream()
        var size = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            size += chunk.count
            stream.update(chunk)
        }
        return (stream.digest(), size)
    }
}

/// SHA-256 over data fed in pieces, for hashing a file while it is written or read, without
/// holding it in memory. A value: a copy goes on independently (copy on write).
public struct SHA256Stream {
    /// Owns one EVP_MD_CTX; freed with the last copy.
    private final class Context {
        let ctx: OpaquePointer
        init() {
            // A failure here means libcrypto cannot allocate a few hundred bytes or has no
            // SHA-256: nothing sensible can go on.
            guard let c = EVP_MD_CTX_new(), EVP_DigestInit_ex(c, EVP_sha256(), nil) == 1 else {
                fatalError("libcrypto: cannot set up SHA-256")
            }
            ctx = c
        }
        init(copying other: Context) {
            guard let c = EVP_MD_CTX_new(), EVP_MD_CTX_copy_ex(c, other.ctx) == 1 else {
                fatalError("libcrypto: cannot copy a SHA-256 context")
            }
            ctx = c
        }
        deinit { EVP_MD_CTX_free(ctx) }
    }

    private var context = Context()

    public init() {}

    public mutating func update(_ data: Data) {
        guard !data.isEmpty else { return }
        if !isKnownUniquelyReferenced(&context) { context = Context(copying: context) }
        data.withUnsafeBytes { i in _ = EVP_DigestUpdate(context.ctx, i.baseAddress, i.count) }
    }

    /// The digest of everything fed so far (the stream can go on afterwards).
    public func digest() -> Data {
        let copy = Context(copying: context)
        var out = Data(count: 32)
        var length: UInt32 = 0
        out.withUnsafeMutableBytes { o in
            _ = EVP_DigestFinal_ex(copy.ctx, o.bindMemory(to: UInt8.self).baseAddress, &length)
        }
        return out
    }
}
