import Foundation
import Testing
@testable import AgencyBus

/// The description of the KeyError `body` throws, or nil.
private func keyError(_ body: () throws -> Any) -> String? {
    do { _ = try body(); return nil } catch let e as KeyError { return e.description } catch { return "unexpected \(error)" }
}

private func mode(of path: String) -> mode_t? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return st.st_mode & 0o777
}

@Suite("PublicKey and SecretKey")
struct KeyTests {
    // MARK: - Text form

    @Test func publicKeyTextRoundTrip() throws {
        let key = SecretKey.generate().publicKey
        #expect(key.text.hasPrefix("ed25519:"))
        #expect(key.text.count == "ed25519:".count + 44)
        #expect(key.description == key.text)
        let back = try PublicKey(text: key.text)
        #expect(back == key)
        #expect(back.bytes == key.bytes)
        #expect(try PublicKey(bytes: key.bytes) == key)
    }

    @Test func missingPrefixIsRejected() throws {
        let key = SecretKey.generate().publicKey
        let bare = key.bytes.base64EncodedString()
        for text in [bare, "curve:" + bare, "ED25519:" + bare, " ed25519:" + bare, ""] {
            let message = keyError { try PublicKey(text: text) }
            #expect(message?.contains("starts with 'ed25519:'") == true, "\(text): \(message ?? "accepted")")
        }
    }

    @Test func nonBase64IsRejected() {
        for text in ["ed25519:", "ed25519:!!!!", "ed25519:abc", "ed25519:not base64 at all="] {
            let message = keyError { try PublicKey(text: text) }
            #expect(message != nil, "\(text) accepted")
            // Either "not base64" or (for "" which decodes to 0 bytes) the length rule.
            #expect(message?.contains("base64") == true || message?.contains("32 bytes") == true, "\(message ?? "")")
        }
    }

    @Test(arguments: [0, 1, 31, 33, 64])
    func wrongLengthIsRejected(length: Int) {
        let text = "ed25519:" + Data(repeating: 9, count: length).base64EncodedString()
        let message = keyError { try PublicKey(text: text) }
        #expect(message == "bad key: an Ed25519 public key has 32 bytes, got \(length)")
        #expect(keyError { try PublicKey(bytes: Data(repeating: 9, count: length)) } != nil)
    }

    @Test func smallOrderPointIsRejected() {
        // The identity point (y = 1) has order 1: it can never complete a CURVE handshake.
        var identity = Data(count: 32)
        identity[0] = 1
        let message = keyError { try PublicKey(bytes: identity) }
        #expect(message?.contains("not a valid Ed25519 point") == true)
        #expect(keyError { try PublicKey(text: "ed25519:" + identity.base64EncodedString()) } != nil)
    }

    // MARK: - Signatures

    @Test func signAndVerify() {
        let key = SecretKey.generate()
        let message = Data("Surat dinas nomor B/1/2026".utf8)
        let signature = key.sign(message)
        #expect(signature.count == 64)
        #expect(key.publicKey.verify(signature: signature, of: message))
        // Deterministic (Ed25519).
        #expect(key.sign(message) == signature)
        // Another message, another key, a damaged or short signature: no.
        #expect(!key.publicKey.verify(signature: signature, of: message + Data([0])))
        #expect(!key.publicKey.verify(signature: signature, of: Data()))
        #expect(!SecretKey.generate().publicKey.verify(signature: signature, of: message))
        #expect(!key.publicKey.verify(signature: signature.flipping(10), of: message))
        #expect(!key.publicKey.verify(signature: signature.dropLast(), of: message))
        #expect(!key.publicKey.verify(signature: Data(), of: message))
    }

    @Test func signEmptyMessage() {
        let key = SecretKey.generate()
        let signature = key.sign(Data())
        #expect(key.publicKey.verify(signature: signature, of: Data()))
    }

    @Test func generatedKeysDiffer() {
        let a = SecretKey.generate(), b = SecretKey.generate()
        #expect(a.publicKey != b.publicKey)
    }

    @Test func secretKeyFromBytes() throws {
        let key = SecretKey.generate()
        let back = try SecretKey(bytes: key.bytes)
        #expect(back.publicKey == key.publicKey)
        #expect(keyError { try SecretKey(bytes: Data(repeating: 1, count: 32)) } == "bad key: an Ed25519 secret key has 64 bytes, got 32")
    }

    // MARK: - CURVE keys

    @Test func derivedCurveKeys() {
        let key = SecretKey.generate()
        let curvePublic = key.publicKey.curvePublicKey
        let curveSecret = key.curveSecretKey
        #expect(curvePublic.count == 32)
        #expect(curveSecret.count == 32)
        #expect(curvePublic != key.publicKey.bytes)
        #expect(curveSecret != key.bytes.prefix(32))   // not the Ed25519 seed
        #expect(curveSecret != curvePublic)
        // Stable for one identity, distinct across identities.
        #expect(key.publicKey.curvePublicKey == curvePublic)
        #expect(SecretKey.generate().publicKey.curvePublicKey != curvePublic)
    }
}

@Suite("KeyFile")
struct KeyFileTests {
    @Test func createWritesMode0600AndLoadsBack() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("node.key")
        let key = SecretKey.generate()
        try KeyFile.create(key, at: path)
        #expect(mode(of: path) == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("ed25519-secret:"))
        #expect(text.hasSuffix("\n"))
        #expect(!text.contains(key.publicKey.text))
        let loaded = try KeyFile.load(at: path)
        #expect(loaded.publicKey == key.publicKey)
        #expect(loaded.bytes == key.bytes)
    }

    @Test func createRefusesToOverwrite() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("node.key")
        let first = SecretKey.generate()
        try KeyFile.create(first, at: path)
        let message = keyError { try KeyFile.create(SecretKey.generate(), at: path) }
        #expect(message?.contains("already exists") == true)
        #expect(message?.contains(path) == true)
        #expect(try KeyFile.load(at: path).publicKey == first.publicKey)  // untouched
    }

    @Test func createInMissingDirectoryFails() throws {
        let dir = try TemporaryDirectory()
        let message = keyError { try KeyFile.create(SecretKey.generate(), at: dir.file("no/such/dir/node.key")) }
        #expect(message != nil)
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o666])
    func loadRefusesLooseMode(loose: Int) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("node.key")
        try KeyFile.create(SecretKey.generate(), at: path)
        #expect(chmod(path, mode_t(loose)) == 0)
        let message = keyError { try KeyFile.load(at: path) }
        #expect(message?.contains("too open") == true)
        #expect(message?.contains("chmod 600") == true)
        #expect(message?.contains(String(loose, radix: 8)) == true)
    }

    @Test func loadAcceptsOwnerOnlyModes() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("node.key")
        let key = SecretKey.generate()
        try KeyFile.create(key, at: path)
        #expect(chmod(path, 0o400) == 0)
        #expect(try KeyFile.load(at: path).publicKey == key.publicKey)
    }

    @Test func loadRefusesMissingAndGarbageFiles() throws {
        let dir = try TemporaryDirectory()
        #expect(keyError { try KeyFile.load(at: dir.file("absent.key")) }?.contains("cannot read") == true)
        let garbage = dir.file("garbage.key")
        for content in ["hello\n", "ed25519-secret:!!!\n", "ed25519:" + SecretKey.generate().publicKey.bytes.base64EncodedString()] {
            try? FileManager.default.removeItem(atPath: garbage)
            #expect(FileManager.default.createFile(atPath: garbage, contents: Data(content.utf8), attributes: [.posixPermissions: 0o600]))
            #expect(keyError { try KeyFile.load(at: garbage) }?.contains("not an AgencyBus secret key") == true)
        }
        // Right prefix, wrong length.
        try? FileManager.default.removeItem(atPath: garbage)
        let short = "ed25519-secret:" + Data(repeating: 1, count: 32).base64EncodedString()
        #expect(FileManager.default.createFile(atPath: garbage, contents: Data(short.utf8), attributes: [.posixPermissions: 0o600]))
        #expect(keyError { try KeyFile.load(at: garbage) }?.contains("64 bytes") == true)
    }
}
