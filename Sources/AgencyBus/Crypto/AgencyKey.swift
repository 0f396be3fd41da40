import CSodium
import Foundation

/// A public identity key: Ed25519 for signatures; the X25519 key CURVE uses is derived from it
/// (`crypto_sign_ed25519_pk_to_curve25519`), so one topology entry serves both purposes.
///
/// Text form (the topology's `publicKey`): `ed25519:` followed by the standard base64 of the
/// 32 key bytes, e.g. `ed25519:3q2+7w...=`.
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let prefix = "ed25519:"
    public let bytes: Data

    public init(bytes: Data) throws {
        guard bytes.count == Int(crypto_sign_PUBLICKEYBYTES) else {
            throw KeyError.malformed("an Ed25519 public key has 32 bytes, got \(bytes.count)")
        }
        Sodium.ensureReady()
        // Reject points that cannot be converted to X25519 (small order, non-canonical):
        // such a key could never complete a CURVE handshake.
        var curve = [UInt8](repeating: 0, count: 32)
        let ok = bytes.withUnsafeBytes { crypto_sign_ed25519_pk_to_curve25519(&curve, $0.bindMemory(to: UInt8.self).baseAddress!) }
        guard ok == 0 else { throw KeyError.malformed("not a valid Ed25519 point") }
        self.bytes = bytes
    }

    /// Parses the text form; the error says what is wrong with it.
    public init(text: String) throws {
        guard text.hasPrefix(Self.prefix) else {
            throw KeyError.malformed("a public key starts with '\(Self.prefix)'")
        }
        guard let raw = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))) else {
            throw KeyError.malformed("the part after '\(Self.prefix)' is not base64")
        }
        try self.init(bytes: raw)
    }

    public var text: String { Self.prefix + bytes.base64EncodedString() }
    public var description: String { text }

    /// The X25519 public key CURVE uses for this identity.
    public var curvePublicKey: Data {
        var curve = Data(count: 32)
        curve.withUnsafeMutableBytes { c in
            bytes.withUnsafeBytes { p in
                // Cannot fail: init already checked the conversion.
                _ = crypto_sign_ed25519_pk_to_curve25519(c.bindMemory(to: UInt8.self).baseAddress!,
                                                         p.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        return curve
    }

    /// True when `signature` is this key's Ed25519 signature over exactly `message`.
    public func verify(signature: Data, of message: Data) -> Bool {
        guard signature.count == Int(crypto_sign_BYTES) else { return false }
        return signature.withUnsafeBytes { s in
            message.withUnsafeBytes { m in
                bytes.withUnsafeBytes { k in
                    crypto_sign_verify_detached(s.bindMemory(to: UInt8.self).baseAddress!,
                                                m.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer(bitPattern: 1)!,
                                                UInt64(message.count),
                                                k.bindMemory(to: UInt8.self).baseAddress!) == 0
                }
            }
        }
    }
}

/// A secret identity key (Ed25519 secret key, 64 bytes: seed + public key).
/// It signs envelopes and yields the X25519 secret key for CURVE.
public struct SecretKey: Sendable {
    let bytes: Data
    public let publicKey: PublicKey

    /// Generates a new random identity (libsodium's CSPRNG).
    public static func generate() -> SecretKey {
        Sodium.ensureReady()
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        crypto_sign_keypair(&pk, &sk)
        // try!: a freshly generated key is always a valid point.
        return SecretKey(bytes: Data(sk), publicKey: try! PublicKey(bytes: Data(pk)))
    }

    init(bytes: Data, publicKey: PublicKey) {
        self.bytes = bytes
        self.publicKey = publicKey
    }

    public init(bytes: Data) throws {
        guard bytes.count == Int(crypto_sign_SECRETKEYBYTES) else {
            throw KeyError.malformed("an Ed25519 secret key has 64 bytes, got \(bytes.count)")
        }
        Sodium.ensureReady()
        var pk = [UInt8](repeating: 0, count: 32)
        _ = bytes.withUnsafeBytes { crypto_sign_ed25519_sk_to_pk(&pk, $0.bindMemory(to: UInt8.self).baseAddress!) }
        self.bytes = bytes
        self.publicKey = try PublicKey(bytes: Data(pk))
    }

    /// Ed25519 detached signature (64 bytes) over exactly `message`.
    public func sign(_ message: Data) -> Data {
        var sig = Data(count: Int(crypto_sign_BYTES))
        sig.withUnsafeMutableBytes { s in
            message.withUnsafeBytes { m in
                bytes.withUnsafeBytes { k in
                    _ = crypto_sign_detached(s.bindMemory(to: UInt8.self).baseAddress!, nil,
                                             m.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer(bitPattern: 1)!,
                                             UInt64(message.count),
                                             k.bindMemory(to: UInt8.self).baseAddress!)
                }
            }
        }
        return sig
    }

    /// The X25519 secret key CURVE uses for this identity.
    public var curveSecretKey: Data {
        var curve = Data(count: 32)
        curve.withUnsafeMutableBytes { c in
            bytes.withUnsafeBytes { k in
                _ = crypto_sign_ed25519_sk_to_curve25519(c.bindMemory(to: UInt8.self).baseAddress!,
                                                         k.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        return curve
    }
}

public enum KeyError: Error, CustomStringConvertible, Equatable {
    case malformed(String)
    case file(path: String, reason: String)

    public var description: String {
        switch self {
        case .malformed(let why): return "bad key: \(why)"
        case .file(let path, let why): return "key file '\(path)': \(why)"
        }
    }
}
