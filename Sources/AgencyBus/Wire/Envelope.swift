import Foundation

/// The fields every signed header carries, whatever its kind.
public struct CommonHeader: Codable, Sendable {
    public var v: Int
    public var kind: String
    public var id: String
    public var from: String
    public var created: String
}

/// The common fields and, for a letter, the whole letter, read in one pass over the JSON:
/// Foundation's decoder scans the document once per `decode` call, and that scan was the
/// largest single cost of receiving a letter (`make bench` profile).
struct ReceivedHeader: Decodable {
    let common: CommonHeader
    let letter: Letter?

    init(from decoder: Decoder) throws {
        common = try CommonHeader(from: decoder)
        // A letter header that does not decode is still an envelope (its refusal, with the
        // field named, comes from `decode(Letter.self)` later).
        letter = common.kind == "letter" ? try? Letter(from: decoder) : nil
    }
}

/// A header type that carries the common fields itself, so sealing one needs no decoding of
/// the bytes just encoded (JSON decoding dominated the nodes' CPU in `make bench`).
public protocol SignedHeader: Encodable {
    var v: Int { get }
    var kind: String { get }
    var id: String { get }
    var from: String { get }
    var created: String { get }
}

extension Letter: SignedHeader {}
extension Disposition: SignedHeader {}
extension StatusUpdate: SignedHeader {}
extension Receipt: SignedHeader {}
extension Acceptance: SignedHeader {}

/// A signed message as it travels: the header bytes exactly as signed (JSON, UTF-8), the
/// Ed25519 signature over exactly those bytes, and the attachment bytes, each bound to the
/// header by its SHA-256. Nothing is re-encoded between signing and verifying: the header
/// bytes are stored and forwarded verbatim.
public struct Envelope: Sendable {
    public let header: Data
    public let signature: Data
    public let attachments: [Data]
    public let common: CommonHeader
    /// The letter, decoded with the common fields (kind `letter` and decodable); nil otherwise.
    let letter: Letter?

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// Encodes `header` once, signs those bytes, and keeps them.
    public static func seal<H: Encodable>(_ header: H, attachments: [Data] = [], with key: SecretKey) throws -> Envelope {
        let bytes = try encoder.encode(header)
        if let h = header as? SignedHeader {
            let common = CommonHeader(v: h.v, kind: h.kind, id: h.id, from: h.from, created: h.created)
            return try Envelope(header: bytes, common: common, letter: header as? Letter, signature: key.sign(bytes),
                                attachments: attachments)
        }
        return try Envelope(header: bytes, signature: key.sign(bytes), attachments: attachments)
    }

    /// Wraps received parts, decoding the common fields (no signature check yet).
    public init(header: Data, signature: Data, attachments: [Data]) throws {
        guard !header.isEmpty else { throw ProtocolError(.malformed, "empty header frame") }
        guard header.count <= Limits.maxHeaderBytes else {
            throw ProtocolError(.tooLarge, "header is \(header.count) bytes; the limit is \(Limits.maxHeaderBytes)")
        }
        guard signature.count == 64 else {
            throw ProtocolError(.malformed, "signature frame has \(signature.count) bytes; an Ed25519 signature has 64")
        }
        guard String(data: header, encoding: .utf8) != nil else {
            throw ProtocolError(.malformed, "header is not valid UTF-8")
        }
        // UTF-8 JSON only: a NUL byte never appears in it, and the object starts the text.
        // Without this, UTF-16 or UTF-32 (ASCII in them is "valid UTF-8" with NULs between)
        // reached decoders that accept those encodings while the duplicate-key scan, reading
        // bytes, did not see `"\u0074o"` as "to" (found by adversarial testing).
        guard !header.contains(0), header.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{") else {
            throw ProtocolError(.malformed, "header is not a UTF-8 JSON object (a NUL byte, a byte-order mark or another encoding)")
        }
        if let key = JSONDuplicateKeys.first(in: header) {
            throw ProtocolError(.malformed, "header has the key '\(key.prefix(40))' twice in one object; a signed header must have one meaning")
        }
        let decoded: ReceivedHeader
        do {
            decoded = try JSONDecoder().decode(ReceivedHeader.self, from: header)
        } catch {
            throw ProtocolError(.malformed, "header is not a JSON object with v, kind, id, from, created")
        }
        try self.init(header: header, common: decoded.common, letter: decoded.letter, signature: signature, attachments: attachments)
    }

    /// The same checks on common fields already known (a header this process just encoded).
    init(header: Data, common: CommonHeader, letter: Letter?, signature: Data, attachments: [Data]) throws {
        guard header.count <= Limits.maxHeaderBytes else {
            throw ProtocolError(.tooLarge, "header is \(header.count) bytes; the limit is \(Limits.maxHeaderBytes)")
        }
        guard common.v == 1 else { throw ProtocolError(.unsupportedVersion, "header version \(common.v); this broker speaks 1") }
        guard MessageID.isValid(common.id) else { throw ProtocolError(.invalid, "id: '\(common.id.prefix(40))' is not a ULID") }
        guard Timestamp(text: common.created) != nil else {
            throw ProtocolError(.invalid, "created: not an RFC 3339 UTC time like 2026-12-03T19:52:38.123Z")
        }
        self.header = header
        self.signature = signature
        self.attachments = attachments
        self.common = common
        self.letter = letter
        self.hash = SHA256.hash(header)
    }

    public var id: String { common.id }
    public var kind: String { common.kind }

    /// The signer's agency (or broker) id: the part of `from` before any `/unit`.
    public var signerID: String { String(common.from.split(separator: "/", maxSplits: 1).first ?? "") }

    /// SHA-256 of the header bytes; it binds the attachments too (their hashes are inside).
    /// Computed once: it is used for idempotency, storage, acceptances and receipts.
    public let hash: Data

    /// Decodes the header as a specific kind.
    public func decode<H: Decodable>(_ type: H.Type) throws -> H {
        if let letter, let same = letter as? H { return same }  // read with the common fields
        do { return try JSONDecoder().decode(type, from: header) } catch {
            throw ProtocolError(.malformed, "\(kind) header does not have the fields the protocol requires (\(Self.describe(error)))")
        }
    }

    /// Checks the signature with `key`, then (for letters) that every attachment frame
    /// matches the size and SHA-256 the signed header gives for it.
    public func verify(with key: PublicKey) throws {
        try verify(withAnyOf: [key])
    }

    /// The same with every key the signer may have used (current first, then keys retired
    /// after this message was created): valid when one of them verifies. The signature comes
    /// first: a forged header is refused as forged, whatever it holds.
    public func verify(withAnyOf keys: [PublicKey]) throws {
        // Each key is tried once (a signature check is the costly part); usually the first fits.
        guard keys.contains(where: { $0.verify(signature: signature, of: header) }) else {
            throw ProtocolError(.badSignature, "signature does not verify with \(signerID)'s key")
        }
        try verifyAttachments()
    }

    /// Only the attachment frames against the sizes and SHA-256s of the (signed) header:
    /// attachments travel outside the header, and those bind them. (A letter's header is
    /// decoded once, with the envelope.)
    public func verifyAttachments() throws {
        guard kind == "letter" else {
            if !attachments.isEmpty { throw ProtocolError(.malformed, "a \(kind) carries no attachments") }
            return
        }
        let letter = try decode(Letter.self)
        guard letter.attachments.count == attachments.count else {
            throw ProtocolError(.malformed, "header lists \(letter.attachments.count) attachments but \(attachments.count) came")
        }
        for (i, (info, data)) in zip(letter.attachments, attachments).enumerated() {
            guard info.size == data.count else {
                throw ProtocolError(.badSignature, "attachments[\(i)] ('\(info.name)') has \(data.count) bytes; the signed header says \(info.size)")
            }
            guard SHA256.hash(data).hexString == info.sha256.lowercased() else {
                throw ProtocolError(.badSignature, "attachments[\(i)] ('\(info.name)') does not match the SHA-256 in the signed header")
            }
        }
    }

    /// The frames after the command name: header, signature, attachments.
    public var frames: [Data] { [header, signature] + attachments }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            return "wrong type at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: return "not valid JSON"
        }
    }
}
