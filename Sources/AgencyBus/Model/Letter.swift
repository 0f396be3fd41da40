import Foundation

/// What the header says about one attachment; the bytes travel as separate frames and are
/// bound to the signature by `sha256` (hex) and `size`.
public struct AttachmentInfo: Codable, Hashable, Sendable {
    public var name: String
    public var size: Int
    public var mediaType: String
    public var sha256: String

    public init(name: String, size: Int, mediaType: String, sha256: String) {
        self.name = name; self.size = size; self.mediaType = mediaType; self.sha256 = sha256
    }
}

/// An official letter (*surat dinas*): the signed header of a `letter` envelope.
public struct Letter: Codable, Sendable {
    public var v: Int = 1
    public var kind: String = "letter"
    public var id: String
    public var from: String
    public var created: String
    public var number: String
    public var date: String
    public var to: [String]
    public var cc: [String]
    public var subject: String
    public var body: String
    public var classification: String
    public var urgency: String
    public var replyTo: String?
    public var attachments: [AttachmentInfo]

    public init(id: String, from: Address, created: Timestamp, number: String, date: String,
                to: [Address], cc: [Address], subject: String, body: String,
                classification: Classification, urgency: Urgency, replyTo: String?,
                attachments: [AttachmentInfo]) {
        self.id = id; self.from = from.description; self.created = created.text
        self.number = number; self.date = date
        self.to = to.map(\.description); self.cc = cc.map(\.description)
        self.subject = subject; self.body = body
        self.classification = classification.rawValue; self.urgency = urgency.rawValue
        self.replyTo = replyTo; self.attachments = attachments
    }

    public var sender: Address { (try? Address(parsing: from)) ?? Address(agency: from) }

    /// Every agency the letter must reach (recipients and carbon copies), without repeats.
    public var recipientAgencies: [String] { uniqueAgencies(to + cc) }

    /// Checks every field against its rule and limit; the error names the field.
    public func validate() throws {
        guard v == 1 else { throw ValidationError(field: "v", reason: "unsupported version \(v) (this build speaks 1)") }
        guard kind == "letter" else { throw ValidationError(field: "kind", reason: "expected 'letter'") }
        guard MessageID.isValid(id) else { throw ValidationError(field: "id", reason: "'\(id.prefix(40))' is not a ULID") }
        _ = try Self.address(from, field: "from")
        guard Timestamp(text: created) != nil else { throw ValidationError(field: "created", reason: "not an RFC 3339 UTC time like 2026-12-03T19:52:38.123Z") }
        guard !number.isEmpty, number.count <= Limits.maxNumberCharacters else {
            throw ValidationError(field: "number", reason: "must have 1–\(Limits.maxNumberCharacters) characters")
        }
        guard CalendarDate.isValid(date) else { throw ValidationError(field: "date", reason: "'\(date.prefix(20))' is not a date YYYY-MM-DD") }
        guard !to.isEmpty else { throw ValidationError(field: "to", reason: "a letter needs at least one recipient") }
        guard to.count + cc.count <= Limits.maxRecipients else {
            throw ValidationError(field: "to", reason: "\(to.count + cc.count) recipients and copies; the limit is \(Limits.maxRecipients)")
        }
        for a in to { _ = try Self.address(a, field: "to") }
        for a in cc { _ = try Self.address(a, field: "cc") }
        let trimmed = subject.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ValidationError(field: "subject", reason: "must not be empty") }
        guard subject.count <= Limits.maxSubjectCharacters else {
            throw ValidationError(field: "subject", reason: "\(subject.count) characters; the limit is \(Limits.maxSubjectCharacters)")
        }
        guard body.utf8.count <= Limits.maxBodyBytes else {
            throw ValidationError(field: "body", reason: "\(body.utf8.count) bytes; the limit is \(Limits.maxBodyBytes) (send long texts as an attachment)")
        }
        _ = try Classification.parse(classification)
        _ = try Urgency.parse(urgency)
        if let replyTo, !MessageID.isValid(replyTo) {
            throw ValidationError(field: "replyTo", reason: "'\(replyTo.prefix(40))' is not a letter id")
        }
        try Self.validateAttachments(attachments)
    }

    static func address(_ text: String, field: String) throws -> Address {
        do { return try Address(parsing: text) } catch let e as ValidationError {
            throw ValidationError(field: field, reason: e.reason)
        }
    }

    static func validateAttachments(_ attachments: [AttachmentInfo]) throws {
        guard attachments.count <= Limits.maxAttachments else {
            throw ValidationError(field: "attachments", reason: "\(attachments.count) files; the limit is \(Limits.maxAttachments)")
        }
        var total = 0
        for (i, a) in attachments.enumerated() {
            let f = "attachments[\(i)]"
            guard !a.name.isEmpty, a.name.count <= Limits.maxFileNameCharacters, !a.name.contains("/"), a.name != "..", a.name != "." else {
                throw ValidationError(field: "\(f).name", reason: "must be a plain file name of 1–\(Limits.maxFileNameCharacters) characters without '/'")
            }
            guard a.size >= 0 else { throw ValidationError(field: "\(f).size", reason: "negative") }
            // Bounded before it is added: sizes come from the wire, and an overflowing sum
            // would stop the process (a one-message denial of service found by testing).
            guard a.size <= Limits.maxAttachmentBytes else {
                throw ValidationError(field: "\(f).size", reason: "\(a.size) bytes; the limit is \(Limits.maxAttachmentBytes) bytes (32 MiB) per letter")
            }
            guard !a.mediaType.isEmpty, a.mediaType.count <= Limits.maxMediaTypeCharacters, a.mediaType.contains("/") else {
                throw ValidationError(field: "\(f).mediaType", reason: "'\(a.mediaType.prefix(40))' is not a media type like text/plain")
            }
            guard a.sha256.count == 64, Data(hexString: a.sha256) != nil else {
                throw ValidationError(field: "\(f).sha256", reason: "must be 64 hex digits")
            }
            total += a.size
        }
        guard total <= Limits.maxAttachmentBytes else {
            throw ValidationError(field: "attachments", reason: "\(total) bytes in all; the limit is \(Limits.maxAttachmentBytes) bytes (32 MiB) per letter")
        }
    }
}
