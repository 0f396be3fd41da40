import Foundation
import Testing
@testable import AgencyBus

/// Wraps received parts and verifies them as the broker and a node do; the error, or nil on success.
private func refusal(header: Data, signature: Data, attachments: [Data], key: PublicKey) -> Error? {
    do {
        let envelope = try Envelope(header: header, signature: signature, attachments: attachments)
        try envelope.verify(with: key)
        return nil
    } catch {
        return error
    }
}

/// The ProtocolError code of a refusal, or nil when it succeeded or threw something else.
private func code(_ error: Error?) -> RefusalCode? { (error as? ProtocolError)?.code }

@Suite("Envelope")
struct EnvelopeTests {
    let key = SecretKey.generate()

    // MARK: - Round trip

    @Test func sealThenVerifyRoundTrip() throws {
        let files = [Fixtures.bytes(1000, seed: 1), Data(), Fixtures.bytes(70_000, seed: 2)]
        let sealed = try Fixtures.sealedLetter(key: key, attachments: files)
        try sealed.verify(with: key.publicKey)

        // As it arrives: the frames after the command name.
        let frames = sealed.frames
        #expect(frames.count == 2 + files.count)
        let received = try Envelope(header: frames[0], signature: frames[1], attachments: Array(frames.dropFirst(2)))
        try received.verify(with: key.publicKey)
        #expect(received.header == sealed.header)
        #expect(received.attachments == files)
        #expect(received.kind == "letter")
        #expect(received.id == sealed.id)
        #expect(received.signerID == "kemenpanrb")
        #expect(received.hash == SHA256.hash(sealed.header))
        #expect(received.hash.count == 32)

        let letter = try received.decode(Letter.self)
        #expect(letter.subject == "Undangan rapat koordinasi")
        #expect(letter.attachments.map(\.size) == files.map(\.count))
        try letter.validate()
    }

    @Test func headerIsCanonicalSortedJSON() throws {
        let sealed = try Fixtures.sealedLetter(key: key)
        let text = try #require(String(data: sealed.header, encoding: .utf8))
        // sortedKeys: "attachments" comes first, "v" last; slashes are not escaped.
        #expect(text.hasPrefix("{\"attachments\":"))
        #expect(text.hasSuffix("\"v\":1}"))
        #expect(text.contains("B/123/M.PANRB/12/2026"))
    }

    @Test func signerIDDropsTheUnit() throws {
        let sealed = try Fixtures.sealedLetter(key: key, from: "kemenpanrb/setmen")
        #expect(sealed.common.from == "kemenpanrb/setmen")
        #expect(sealed.signerID == "kemenpanrb")
    }

    @Test func anotherKeyDoesNotVerify() throws {
        let sealed = try Fixtures.sealedLetter(key: key)
        let other = SecretKey.generate()
        #expect(throws: ProtocolError.self) { try sealed.verify(with: other.publicKey) }
        #expect(code(refusal(header: sealed.header, signature: sealed.signature, attachments: [], key: other.publicKey)) == .badSignature)
    }

    // MARK: - Tampering

    @Test(arguments: [0, 1, 2, 10, 40, 100, -3, -2, -1])
    func flippedHeaderByteIsRefused(position: Int) throws {
        let sealed = try Fixtures.sealedLetter(key: key, attachments: [Fixtures.bytes(64)])
        let index = position >= 0 ? position : sealed.header.count + position
        for mask: UInt8 in [0x01, 0x20, 0x80] {
            let error = refusal(header: sealed.header.flipping(index, mask: mask), signature: sealed.signature,
                                attachments: sealed.attachments, key: key.publicKey)
            #expect(error != nil, "flipping header byte \(index) with \(mask) was accepted")
            #expect(error is ProtocolError, "unexpected error type: \(String(describing: error))")
        }
    }

    @Test func flippedByteInsideSubjectIsABadSignature() throws {
        // Still valid JSON with all fields: only the signature can catch this.
        let sealed = try Fixtures.sealedLetter(key: key, subject: "Undangan rapat koordinasi")
        let text = try #require(String(data: sealed.header, encoding: .utf8))
        let range = try #require(text.range(of: "rapat"))
        let index = text.utf8.distance(from: text.startIndex, to: range.lowerBound)
        let tampered = sealed.header.flipping(index, mask: 0x20)  // 'r' → 'R'
        #expect(String(data: tampered, encoding: .utf8)?.contains("Rapat") == true)
        let error = refusal(header: tampered, signature: sealed.signature, attachments: [], key: key.publicKey)
        #expect(code(error) == .badSignature)
    }

    @Test(arguments: [0, 1, 31, 32, 62, 63])
    func flippedSignatureByteIsABadSignature(position: Int) throws {
        let sealed = try Fixtures.sealedLetter(key: key)
        let error = refusal(header: sealed.header, signature: sealed.signature.flipping(position),
                            attachments: [], key: key.publicKey)
        #expect(code(error) == .badSignature)
        #expect((error as? ProtocolError)?.reason.contains("kemenpanrb") == true)
    }

    @Test func wrongLengthSignatureIsMalformed() throws {
        let sealed = try Fixtures.sealedLetter(key: key)
        for sig in [Data(), sealed.signature.dropLast(), sealed.signature + Data([0])] {
            let error = refusal(header: sealed.header, signature: Data(sig), attachments: [], key: key.publicKey)
            #expect(code(error) == .malformed)
            #expect((error as? ProtocolError)?.reason.contains("64") == true)
        }
    }

    @Test(arguments: [0, 1, 4095, 4096, 9999])
    func flippedAttachmentByteIsRefused(position: Int) throws {
        let files = [Fixtures.bytes(10_000, seed: 3), Fixtures.bytes(10, seed: 4)]
        let sealed = try Fixtures.sealedLetter(key: key, attachments: files)
        let tampered = [files[0].flipping(position), files[1]]
        let error = refusal(header: sealed.header, signature: sealed.signature, attachments: tampered, key: key.publicKey)
        #expect(code(error) == .badSignature)
        #expect((error as? ProtocolError)?.reason.contains("attachments[0]") == true)
    }

    @Test func attachmentSizeMismatchIsRefused() throws {
        let files = [Fixtures.bytes(100, seed: 5), Fixtures.bytes(200, seed: 6)]
        let sealed = try Fixtures.sealedLetter(key: key, attachments: files)
        for tampered in [[files[0], files[1] + Data([0])], [files[0], files[1].dropLast()], [files[0], Data()]] {
            let error = refusal(header: sealed.header, signature: sealed.signature,
                                attachments: tampered.map { Data($0) }, key: key.publicKey)
            #expect(code(error) == .badSignature)
            #expect((error as? ProtocolError)?.reason.contains("attachments[1]") == true)
        }
        // Swapped attachments: sizes differ, so refused too.
        let swapped = refusal(header: sealed.header, signature: sealed.signature, attachments: [files[1], files[0]], key: key.publicKey)
        #expect(code(swapped) == .badSignature)
    }

    @Test func attachmentCountMismatchIsRefused() throws {
        let files = [Fixtures.bytes(100, seed: 5), Fixtures.bytes(200, seed: 6)]
        let sealed = try Fixtures.sealedLetter(key: key, attachments: files)
        for frames in [[], [files[0]], files + [Data()], files + [files[1]]] {
            let error = refusal(header: sealed.header, signature: sealed.signature, attachments: frames, key: key.publicKey)
            #expect(code(error) == .malformed, "\(frames.count) attachment frames for 2 in the header")
            #expect((error as? ProtocolError)?.reason.contains("attachments") == true)
        }
    }

    @Test func nonLetterKindCarriesNoAttachments() throws {
        let receipt = Receipt(id: MessageID.generate(), from: "bappenas", created: .now(), to: "kemenpanrb",
                              items: [.init(id: MessageID.generate(), sha256: String(repeating: "a", count: 64), status: "stored")])
        let sealed = try Envelope.seal(receipt, with: key)
        try sealed.verify(with: key.publicKey)
        let error = refusal(header: sealed.header, signature: sealed.signature, attachments: [Data([1])], key: key.publicKey)
        #expect(code(error) == .malformed)
    }

    // MARK: - Malformed headers

    static let signature = Data(repeating: 0xAB, count: 64)

    static func header(_ fields: [String: Any]) -> Data { Fixtures.json(fields) }

    static var good: [String: Any] { [
        "v": 1, "kind": "letter", "id": "01JDX5M8ZQ4T0J6W3V9B2K7C1N", "from": "kemenpanrb",
        "created": "2026-12-03T19:52:38.123Z",
    ] }

    private func decodeError(_ header: Data, signature: Data = EnvelopeTests.signature) -> ProtocolError? {
        do {
            _ = try Envelope(header: header, signature: signature, attachments: [])
            return nil
        } catch {
            return error as? ProtocolError
        }
    }

    @Test func minimalCommonHeaderIsAccepted() throws {
        let e = try Envelope(header: Self.header(Self.good), signature: Self.signature, attachments: [])
        #expect(e.id == "01JDX5M8ZQ4T0J6W3V9B2K7C1N")
        #expect(e.kind == "letter")
        // ...but its signature is not valid.
        #expect(throws: ProtocolError(.badSignature, "signature does not verify with kemenpanrb's key")) {
            try e.verify(with: key.publicKey)
        }
    }

    @Test func aKeyTwiceInOneObjectIsMalformed() {
        // Readers disagree on which of two equal keys counts; a signed header must not be read two ways.
        let base = #"{"created":"2026-12-03T19:52:38.123Z","from":"kemenpanrb","id":"01JDX5M8ZQ4T0J6W3V9B2K7C1N","kind":"letter","v":1"#
        for (extra, key) in [(#","to":["a"],"to":["b"]}"#, "to"),
                             (#","subject":"A","\u0073ubject":"B"}"#, "subject"),          // escaped, same key
                             (#","from":"bappenas"}"#, "from"),
                             (#","attachments":[{"name":"a","name":"b"}]}"#, "name"),       // nested object
                             (#","x":{"k":1,"y":{"k":2},"k":3}}"#, "k"),
                             (#","emoji\ud83d\ude00":1,"emoji"# + "\u{1F600}" + #"":2}"#, "emoji\u{1F600}")] {  // a surrogate pair is the character
            let e = decodeError(Data((base + extra).utf8))
            #expect(e?.code == .malformed && e?.reason.contains("'\(key)' twice") == true, "\(extra): \(String(describing: e))")
        }
        // The same key in different objects, or a key's text as a value, is fine.
        for extra in [#","a":{"k":1},"b":{"k":1}}"#, #","subject":"from","note":"kind"}"#, #","l":[{"k":1},{"k":2}]}"#,
                      #","s":"a \"quoted\" \\ \"k\":1","k":2}"#] {
            #expect(JSONDuplicateKeys.first(in: Data((base + extra).utf8)) == nil, "\(extra)")
        }
        // Never traps on broken input.
        for broken in [#"{"a"#, #"{"a\u12"#, "}}}]]", #"{"k":1,"k"#, String(repeating: "[", count: 100_000), #""\"#] {
            _ = JSONDuplicateKeys.first(in: Data(broken.utf8))
        }
    }

    @Test func aHeaderInAnotherEncodingIsMalformed() {
        // UTF-16/32 hid an escaped duplicate key from the byte scan while decoders read it.
        let text = #"{"created":"2026-12-03T19:52:38.123Z","from":"kemenpanrb","id":"01JDX5M8ZQ4T0J6W3V9B2K7C1N","kind":"letter","to":["a"],"\u0074o":["b"],"v":1}"#
        for encoding in [String.Encoding.utf16LittleEndian, .utf16BigEndian, .utf32LittleEndian, .utf16] {
            let bytes = try! #require(text.data(using: encoding))
            let e = decodeError(bytes)
            // Refused either way: as not UTF-8 (with a UTF-16 byte-order mark) or, the case that
            // mattered, as UTF-8 that is not a JSON object (NULs between the ASCII bytes).
            #expect(e?.code == .malformed, "\(encoding): \(String(describing: e))")
            if encoding != .utf16 { #expect(e?.reason.contains("UTF-8 JSON object") == true, "\(encoding): \(String(describing: e))") }
        }
        let bom = Data([0xEF, 0xBB, 0xBF]) + Data(Self.header(Self.good))
        #expect(decodeError(bom)?.code == .malformed, "a byte-order mark")
        #expect(decodeError(Data(" \n".utf8) + Self.header(Self.good)) == nil, "leading white space is still JSON")
    }

    @Test func headerThatIsNotJSONIsMalformed() {
        for bytes in ["not json", "[1,2,3]", "{", "\"text\"", "{\"v\":1,", "null"] {
            #expect(decodeError(Data(bytes.utf8))?.code == .malformed, "\(bytes)")
        }
    }

    @Test func emptyHeaderIsMalformed() {
        #expect(decodeError(Data())?.code == .malformed)
    }

    @Test func nonUTF8HeaderIsMalformed() {
        var bytes = Self.header(Self.good)
        bytes.insert(0xFF, at: 1)
        let error = decodeError(bytes)
        #expect(error?.code == .malformed)
        #expect(error?.reason.contains("UTF-8") == true)
    }

    @Test(arguments: ["v", "kind", "id", "from", "created"])
    func missingFieldIsMalformed(field: String) {
        var fields = Self.good
        fields[field] = nil
        #expect(decodeError(Self.header(fields))?.code == .malformed)
    }

    @Test func wrongFieldTypeIsMalformed() {
        var fields = Self.good
        fields["v"] = "1"
        #expect(decodeError(Self.header(fields))?.code == .malformed)
        fields = Self.good
        fields["id"] = 12345
        #expect(decodeError(Self.header(fields))?.code == .malformed)
    }

    @Test(arguments: [0, 2, 99, -1])
    func otherVersionIsUnsupported(version: Int) {
        var fields = Self.good
        fields["v"] = version
        let error = decodeError(Self.header(fields))
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.reason.contains("\(version)") == true)
    }

    @Test(arguments: ["", "not-a-ulid", "01JDX5M8ZQ4T0J6W3V9B2K7C1", "01JDX5M8ZQ4T0J6W3V9B2K7C1NN",
                      "01jdx5m8zq4t0j6w3v9b2k7c1n", "81JDX5M8ZQ4T0J6W3V9B2K7C1N", "01JDX5M8ZQ4T0J6W3V9B2K7C1U"])
    func badULIDIsInvalid(id: String) {
        var fields = Self.good
        fields["id"] = id
        let error = decodeError(Self.header(fields))
        #expect(error?.code == .invalid)
        #expect(error?.reason.hasPrefix("id:") == true)
    }

    @Test(arguments: ["", "2026-12-03", "2026-12-03T19:52:38+07:00", "2026-12-03 19:52:38Z", "yesterday"])
    func badCreatedIsInvalid(created: String) {
        var fields = Self.good
        fields["created"] = created
        let error = decodeError(Self.header(fields))
        #expect(error?.code == .invalid)
        #expect(error?.reason.hasPrefix("created:") == true)
    }

    @Test func oversizeHeaderIsTooLarge() {
        var fields = Self.good
        fields["body"] = String(repeating: "x", count: Limits.maxHeaderBytes)
        let error = decodeError(Self.header(fields))
        #expect(error?.code == .tooLarge)
        #expect(error?.reason.contains("\(Limits.maxHeaderBytes)") == true)
    }

    @Test func decodeAsTheWrongKindNamesTheMissingField() throws {
        let e = try Envelope(header: Self.header(Self.good), signature: Self.signature, attachments: [])
        do {
            _ = try e.decode(Letter.self)
            Issue.record("decoding a bare header as a Letter succeeded")
        } catch let error as ProtocolError {
            #expect(error.code == .malformed)
            #expect(error.reason.contains("missing"))
        }
    }

    @Test func letterWithWrongAttachmentShapeIsRefusedByVerify() throws {
        // A signed header whose `attachments` is not a list: verify cannot check the
        // attachments, so it must refuse rather than pass.
        var fields = Self.good
        fields["id"] = MessageID.generate()
        fields["attachments"] = "none"
        let header = Self.header(fields)
        let error = refusal(header: header, signature: key.sign(header), attachments: [], key: key.publicKey)
        #expect(code(error) == .malformed)
    }
}
