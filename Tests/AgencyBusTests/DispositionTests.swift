import Foundation
import Testing
@testable import AgencyBus

// Disposition, StatusUpdate and Instruction as values: every rule of `validate()` names the
// field it is about, so a refusal tells the user what to fix.

/// A disposition that passes `validate()`; tests change one field at a time.
private func disposition(parent: String? = MessageID.generate(), to: [String] = ["pemkot-semarang/setda"],
                         instructions: [Instruction] = [.tindakLanjuti, .laporkan], due: String? = "2026-12-31") -> Disposition {
    // try!: fixed valid literals
    Disposition(id: MessageID.generate(), from: try! Address(parsing: "pemkot-semarang/walikota"), created: .now(),
                letter: MessageID.generate(), parent: parent, to: to.map { try! Address(parsing: $0) },
                instructions: instructions, note: "Mohon ditindaklanjuti.", due: due, urgency: .segera)
}

/// A status update that passes `validate()`.
private func statusUpdate(_ value: StatusUpdate.Value = .done, note: String? = "Sudah dilaksanakan") -> StatusUpdate {
    StatusUpdate(id: MessageID.generate(), from: try! Address(parsing: "pemkot-semarang/setda"),  // try!: literal
                 created: .now(), item: MessageID.generate(), letter: MessageID.generate(), to: "pemkot-semarang",
                 status: value, note: note)
}

/// The ValidationError `body` throws, or nil when it throws nothing.
private func failure(_ body: () throws -> Void) -> ValidationError? {
    do { try body(); return nil } catch { return error as? ValidationError ?? ValidationError(field: "unexpected", reason: "\(error)") }
}

private func failingField(_ d: Disposition) -> String? { failure { try d.validate() }?.field }
private func failingField(_ s: StatusUpdate) -> String? { failure { try s.validate() }?.field }

@Suite("Disposition, StatusUpdate, Instruction")
struct DispositionTests {
    // MARK: - Instruction

    @Test func theFixedListIsTheOneTheDomainUses() {
        #expect(Instruction.allCases.map(\.rawValue) == [
            "tindak-lanjuti", "pelajari", "siapkan-jawaban", "hadiri", "untuk-diketahui", "arsipkan", "koordinasikan", "laporkan",
        ])
    }

    @Test func everyListedInstructionParses() throws {
        for i in Instruction.allCases { #expect(try Instruction.parse(i.rawValue) == i) }
    }

    @Test func anUnknownInstructionNamesItselfAndTheList() {
        for text in ["tindaklanjuti", "Pelajari", "", " hadiri", "delete"] {
            let e = failure { _ = try Instruction.parse(text) }
            #expect(e?.field == "instruction", "\(text)")
            #expect(e?.reason.contains("'\(text)'") == true, "\(e?.reason ?? "")")
            #expect(e?.reason.contains("tindak-lanjuti, pelajari, siapkan-jawaban, hadiri, untuk-diketahui, arsipkan, koordinasikan, laporkan") == true)
        }
    }

    // MARK: - Disposition

    @Test func dispositionFixtureIsValid() throws {
        try disposition().validate()
        try disposition(parent: nil, due: nil).validate()
        try disposition(to: ["pemkot-semarang/diskominfo", "pemprov-jateng/diskominfo"],
                        instructions: Instruction.allCases).validate()
    }

    @Test func initStoresTextForms() {
        let d = disposition(to: ["pemkot-semarang/diskominfo", "pemprov-jateng/diskominfo"], instructions: [.koordinasikan, .laporkan])
        #expect(d.v == 1)
        #expect(d.kind == "disposition")
        #expect(d.from == "pemkot-semarang/walikota")
        #expect(d.to == ["pemkot-semarang/diskominfo", "pemprov-jateng/diskominfo"])
        #expect(d.instructions == ["koordinasikan", "laporkan"])
        #expect(d.urgency == "segera")
        #expect(Timestamp(text: d.created) != nil)
    }

    @Test func recipientAgenciesAreDeduplicatedInOrder() {
        let d = disposition(to: ["pemprov-jateng/diskominfo", "pemkot-semarang/setda", "pemprov-jateng/bappeda"])
        #expect(d.recipientAgencies == ["pemprov-jateng", "pemkot-semarang"])
    }

    @Test func dispositionCodableRoundTripAndAbsentOptionals() throws {
        let d = disposition()
        let back = try JSONDecoder().decode(Disposition.self, from: try JSONEncoder().encode(d))
        #expect(back.id == d.id && back.letter == d.letter && back.parent == d.parent && back.due == d.due)
        #expect(back.to == d.to && back.instructions == d.instructions && back.note == d.note)
        try back.validate()

        // The first disposition on a letter has no parent, and a due date is optional:
        // both may be left out of the JSON entirely.
        let first = disposition(parent: nil, due: nil)
        let json = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(first)) as? [String: Any])
        #expect(json["parent"] == nil)
        #expect(json["due"] == nil)
        let decoded = try JSONDecoder().decode(Disposition.self, from: Fixtures.json(json))
        #expect(decoded.parent == nil)
        #expect(decoded.due == nil)
        try decoded.validate()
    }

    @Test func versionAndKind() {
        var d = disposition(); d.v = 2
        #expect(failingField(d) == "v")
        d = disposition(); d.kind = "letter"
        #expect(failingField(d) == "kind")
    }

    @Test func ids() {
        var d = disposition(); d.id = "not-a-ulid"
        #expect(failingField(d) == "id")
        d = disposition(); d.letter = "B/123/2026"
        #expect(failingField(d) == "letter")
        #expect(failure { try d.validate() }?.reason.contains("B/123/2026") == true)
        d = disposition(); d.parent = ""
        #expect(failingField(d) == "parent")
        d = disposition(); d.parent = "01ARZ3NDEKTSV4RRFFQ69G5FAVX"  // 27 characters
        #expect(failingField(d) == "parent")
    }

    @Test func fromAndCreated() {
        var d = disposition(); d.from = "Pemkot Semarang"
        #expect(failingField(d) == "from")
        d = disposition(); d.from = "pemkot-semarang/"
        #expect(failingField(d) == "from")
        d = disposition(); d.created = "2026-12-03 10:00:00"
        #expect(failingField(d) == "created")
        d = disposition(); d.created = "2026-12-03T10:00:00+07:00"
        #expect(failingField(d) == "created")
    }

    @Test func recipients() {
        var d = disposition(); d.to = []
        #expect(failingField(d) == "to")
        #expect(failure { try d.validate() }?.reason.contains("got 0") == true)
        d = disposition(); d.to = ["pemkot-semarang/setda", "Dinas Kominfo"]
        #expect(failingField(d) == "to")
        d = disposition(); d.to = Array(repeating: "pemkot-semarang/setda", count: Limits.maxRecipients + 1)
        #expect(failingField(d) == "to")
        #expect(failure { try d.validate() }?.reason.contains("\(Limits.maxRecipients + 1)") == true)
        d = disposition(); d.to = Array(repeating: "pemkot-semarang/setda", count: Limits.maxRecipients)
        #expect(failingField(d) == nil)
    }

    @Test func instructions() {
        var d = disposition(); d.instructions = []
        #expect(failingField(d) == "instructions")
        #expect(failure { try d.validate() }?.reason.contains("tindak-lanjuti") == true)
        d = disposition(); d.instructions = Array(repeating: "pelajari", count: Instruction.allCases.count + 1)
        #expect(failingField(d) == "instructions")
        // An unknown one names the bad value (the rule is the one Instruction.parse applies).
        d = disposition(); d.instructions = ["pelajari", "hapus"]
        let e = failure { try d.validate() }
        #expect(e?.field.hasPrefix("instruction") == true, "\(String(describing: e))")
        #expect(e?.reason.contains("'hapus'") == true)
    }

    @Test func note() {
        var d = disposition(); d.note = String(repeating: "a", count: Limits.maxNoteBytes)
        #expect(failingField(d) == nil)
        d.note += "a"
        #expect(failingField(d) == "note")
        #expect(failure { try d.validate() }?.reason.contains("\(Limits.maxNoteBytes)") == true)
        // Bytes, not characters: 'é' is two bytes in UTF-8.
        d.note = String(repeating: "é", count: Limits.maxNoteBytes / 2 + 1)
        #expect(failingField(d) == "note")
    }

    @Test func dueDate() {
        for bad in ["2026-02-30", "31-12-2026", "2026-12-31T00:00:00Z", "besok", ""] {
            var d = disposition(); d.due = bad
            #expect(failingField(d) == "due", "\(bad)")
        }
        // A due date in the past is a node-side rule (dispose refuses it); the message itself
        // stays valid, so a late copy or an old disposition in an archive still verifies.
        var d = disposition(); d.due = "2020-01-01"
        #expect(failingField(d) == nil)
        d.due = "2028-02-29"
        #expect(failingField(d) == nil)
    }

    @Test func urgency() {
        var d = disposition(); d.urgency = "kilat"
        #expect(failingField(d) == "urgency")
        #expect(failure { try d.validate() }?.reason.contains("biasa, segera, sangat-segera") == true)
        for u in Urgency.allCases {
            d.urgency = u.rawValue
            #expect(failingField(d) == nil)
        }
    }

    // MARK: - StatusUpdate

    @Test func statusFixtureIsValid() throws {
        for v in StatusUpdate.Value.allCases { try statusUpdate(v).validate() }
        try statusUpdate(.read, note: nil).validate()
    }

    @Test func valuesParseAndUnknownOnesNameTheField() throws {
        #expect(StatusUpdate.Value.allCases.map(\.rawValue) == ["read", "in-progress", "done"])
        for v in StatusUpdate.Value.allCases { #expect(try StatusUpdate.Value.parse(v.rawValue) == v) }
        for text in ["selesai", "in_progress", "Done", ""] {
            let e = failure { _ = try StatusUpdate.Value.parse(text) }
            #expect(e?.field == "status", "\(text)")
            #expect(e?.reason.contains("read, in-progress, done") == true)
        }
    }

    @Test func statusCodableRoundTripWithoutNote() throws {
        let s = statusUpdate(.inProgress, note: nil)
        let data = try JSONEncoder().encode(s)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["note"] == nil)
        #expect(json["status"] as? String == "in-progress")
        #expect(json["kind"] as? String == "status")
        let back = try JSONDecoder().decode(StatusUpdate.self, from: data)
        #expect(back.item == s.item && back.letter == s.letter && back.to == s.to && back.note == nil)
        try back.validate()
    }

    @Test func eachStatusRuleNamesItsField() {
        var s = statusUpdate(); s.v = 0
        #expect(failingField(s) == "v")
        s = statusUpdate(); s.kind = "disposition"
        #expect(failingField(s) == "kind")
        s = statusUpdate(); s.id = "x"
        #expect(failingField(s) == "id")
        s = statusUpdate(); s.from = "PEMKOT"
        #expect(failingField(s) == "from")
        s = statusUpdate(); s.created = "kemarin"
        #expect(failingField(s) == "created")
        s = statusUpdate(); s.item = "01ARZ3NDEKTSV4RRFFQ69G5FA"  // 25 characters
        #expect(failingField(s) == "item")
        s = statusUpdate(); s.letter = ""
        #expect(failingField(s) == "letter")
        s = statusUpdate(); s.to = "pemkot-semarang/setda"  // an agency, not a unit address
        #expect(failingField(s) == "to")
        s = statusUpdate(); s.to = "Pemkot Semarang"
        #expect(failingField(s) == "to")
        s = statusUpdate(); s.status = "selesai"
        #expect(failingField(s) == "status")
        s = statusUpdate(); s.note = String(repeating: "x", count: Limits.maxNoteBytes + 1)
        #expect(failingField(s) == "note")
        s.note = String(repeating: "x", count: Limits.maxNoteBytes)
        #expect(failingField(s) == nil)
    }
}
