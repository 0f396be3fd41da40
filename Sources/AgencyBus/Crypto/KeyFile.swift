import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Secret key files: created 0600 with O_EXCL (never overwriting a key), and refused when
/// group or world can read them, as ssh refuses a private key with loose permissions.
///
/// Format: one line, `ed25519-secret:` + base64 of the 64-byte Ed25519 secret key.
public enum KeyFile {
    static let prefix = "ed25519-secret:"

    /// Writes a new key file; throws if the file already exists.
    public static func create(_ key: SecretKey, at path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let err = errno
            if err == EEXIST {
                throw KeyError.file(path: path, reason: "already exists; refusing to overwrite an identity key")
            }
            throw KeyError.file(path: path, reason: String(cString: strerror(err)))
        }
        defer { close(fd) }
        let text = Array((prefix + key.bytes.base64EncodedString() + "\n").utf8)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == text.count, fsync(fd) == 0 else {
            throw KeyError.file(path: path, reason: "could not write: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a key file, refusing it when its mode lets group or others read it.
    public static func load(at path: String) throws -> SecretKey {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw KeyError.file(path: path, reason: "cannot read: \(String(cString: strerror(errno)))")
        }
        if st.st_mode & 0o077 != 0 {
            let mode = String(st.st_mode & 0o777, radix: 8)
            throw KeyError.file(path: path, reason: "permissions 0\(mode) are too open; run: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              text.hasPrefix(prefix),
              let raw = Data(base64Encoded: String(text.dropFirst(prefix.count))) else {
            throw KeyError.file(path: path, reason: "not an AgencyBus secret key (expected one line '\(prefix)<base64>')")
        }
        return try SecretKey(bytes: raw)
    }
}
