import Foundation

/// The fixed list of instructions a disposition may carry (*isi disposisi*).
public enum Instruction: String, CaseIterable, Codable, Sendable {
    case tindakLanjuti = "tindak-lanjuti"      // follow up
    case pelajari                              // study
    case siapkanJawaban = "siapkan-jawaban"    // draft a reply
    case hadiri                                // attend
    case untukDiketahui = "untuk-diketahui"    // for information
    case arsipkan                              // file
    case koordinasikan                         // coordinate
    case laporkan                              // report back

    public static func parse(_ text: String) throws -> Instruction {
        guard let i = Instruction(rawValue: text) else {
            throw ValidationError(field: "instruction", reason: "'\(text)' is not one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return i
    }
}

/// A disposition (*disposisi*): a holder's routed instruction on a letter to one or more
/// agency units, possibly in other agencies. Dispositions nest through `parent`.
public struct Disposition: Codable, Sendable {
    public var v: Int = 1
    public var kind: String = "disposition"
    public var id: String
    public var from: String
    public var created: String
    /// The letter this disposition concerns.
    public var letter: String
    /// The disposition it continues; nil for the first one on a letter.
    public var parent: String?
    public var to: [String]
    public var instructions: [String]
    public var note: String
    public var due: String?
    public var urgency: String

    public init(id: String, from: Address, created: Timestamp, letter: String, parent: String?, to: [Address],
                instructions: [Instruction], note: String, due: String?, urgency: Urgency) {
        self.id = id; self.from = from.description; self.created = created.text; self.letter = letter
        self.parent = parent; self.to = to.map(\.description); self.instructions = instructions.map(\.rawValue)
        self.note = note; self.due = due; self.urgency = urgency.rawValue
    }

    public var recipientAgencies: [String] { uniqueAgencies(to) }

    public func validate() throws {
        guard v == 1 else { throw ValidationError(field: "v", reason: "unsupported version \(v)") }
        guard kind == "disposition" else { throw ValidationError(field: "kind", reason: "expected 'disposition'") }
        guard MessageID.isValid(id) else { throw ValidationError(field: "id", reason: "not a ULID") }
        _ = try Letter.address(from, field: "from")
        guard Timestamp(text: created) != nil else { throw ValidationError(field: "created", reason: "not an RFC 3339 UTC time") }
        guard MessageID.isValid(letter) else { throw ValidationError(field: "letter", reason: "'\(letter.prefix(40))' is not a letter id") }
        if let parent, !MessageID.isValid(parent) { throw ValidationError(field: "parent", reason: "not a disposition id") }
        guard !to.isEmpty, to.count <= Limits.maxRecipients else {
            throw ValidationError(field: "to", reason: "1–\(Limits.maxRecipients) agency/unit addresses, got \(to.count)")
        }
        for a in to { _ = try Letter.address(a, field: "to") }
        guard !instructions.isEmpty, instructions.count <= Instruction.allCases.count else {
            throw ValidationError(field: "instructions", reason: "at least one of \(Instruction.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for i in instructions { _ = try Instruction.parse(i) }
        guard note.utf8.count <= Limits.maxNoteBytes else {
            throw ValidationError(field: "note", reason: "\(note.utf8.count) bytes; the limit is \(Limits.maxNoteBytes)")
        }
        if let due, !CalendarDate.isValid(due) { throw ValidationError(field: "due", reason: "'\(due.prefix(20))' is not a date YYYY-MM-DD") }
        _ = try Urgency.parse(urgency)
    }
}

/// A holder's signed status on a letter or disposition it received, sent back to whoever
/// sent that item (the disposer, or the letter's sender).
public struct StatusUpdate: Codable, Sendable {
    public enum Value: String, CaseIterable, Codable, Sendable {
        case read
        case inProgress = "in-progress"
        case done

        public static func parse(_ text: String) throws -> Value {
            guard let v = Value(rawValue: text) else {
                throw ValidationError(field: "status", reason: "'\(text)' is not one of read, in-progress, done")
            }
            return v
        }
    }

    public var v: Int = 1
    public var kind: String = "status"
    public var id: String
    public var from: String
    public var created: String
    /// The letter or disposition the status is about.
    public var item: String
    /// The letter that item belongs to (the item itself for a letter).
    public var letter: String
    /// The agency the status goes to (the item's sender).
    public var to: String
    public var status: String
    public var note: String?

    public init(id: String, from: Address, created: Timestamp, item: String, letter: String, to: String, status: Value, note: String?) {
        self.id = id; self.from = from.description; self.created = created.text; self.item = item
        self.letter = letter; self.to = to; self.status = status.rawValue; self.note = note
    }

    public func validate() throws {
        guard v == 1 else { throw ValidationError(field: "v", reason: "unsupported version \(v)") }
        guard kind == "status" else { throw ValidationError(field: "kind", reason: "expected 'status'") }
        guard MessageID.isValid(id) else { throw ValidationError(field: "id", reason: "not a ULID") }
        _ = try Letter.address(from, field: "from")
        guard Timestamp(text: created) != nil else { throw ValidationError(field: "created", reason: "not an RFC 3339 UTC time") }
        guard MessageID.isValid(item) else { throw ValidationError(field: "item", reason: "not a letter or disposition id") }
        guard MessageID.isValid(letter) else { throw ValidationError(field: "letter", reason: "not a letter id") }
        guard Slug.isValid(to) else { throw ValidationError(field: "to", reason: "not an agency id") }
        _ = try Value.parse(status)
        if let note, note.utf8.count > Limits.maxNoteBytes {
            throw ValidationError(field: "note", reason: "\(note.utf8.count) bytes; the limit is \(Limits.maxNoteBytes)")
        }
    }
}

func uniqueAgencies(_ addresses: [String]) -> [String] {
    var seen = Set<String>()
    var out: [String] = []
    for text in addresses {
        let agency = String(text.split(separator: "/").first ?? "")
        if seen.insert(agency).inserted { out.append(agency) }
    }
    return out
}
