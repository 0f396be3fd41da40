import Foundation
import Testing
@testable import AgencyBus

/// The field named by the ValidationError `validate()` throws, or nil when the letter is valid.
private func failingField(_ letter: Letter) -> String? {
    do { try letter.validate(); return nil } catch let e as ValidationError { return e.field } catch { return "unexpected \(error)" }
}

private func failure(_ letter: Letter) -> ValidationError? {
    do { try letter.validate(); return nil } catch { return error as? ValidationError }
}

private func info(_ name: String = "a.pdf", size: Int = 10, mediaType: String = "application/pdf",
                  sha256: String = String(repeating: "ab", count: 32)) -> AttachmentInfo {
    AttachmentInfo(name: name, size: size, mediaType: mediaType, sha256: sha256)
}

@Suite("Letter")
struct LetterTests {
    @Test func fixtureIsValid() throws {
        try Fixtures.letter().validate()
        try Fixtures.letter(to: ["bappenas/settama", "anri"], attachments: [Data([1]), Data()]).validate()
    }

    @Test func codableRoundTrip() throws {
        var letter = Fixtures.letter(cc: ["anri/settama"], attachments: [Data("isi".utf8)])
        letter.replyTo = MessageID.generate()
        let data = try JSONEncoder().encode(letter)
        let back = try JSONDecoder().decode(Letter.self, from: data)
        #expect(back.id == letter.id)
        #expect(back.cc == ["anri/settama"])
        #expect(back.replyTo == letter.replyTo)
        #expect(back.attachments == letter.attachments)
        #expect(back.classification == "biasa")
        #expect(back.urgency == "segera")
        try back.validate()
    }

    @Test func initStoresTextForms() {
        let letter = Fixtures.letter(from: "kemenpanrb/setmen", to: ["pemkot-semarang/diskominfo"])
        #expect(letter.v == 1)
        #expect(letter.kind == "letter")
        #expect(letter.from == "kemenpanrb/setmen")
        #expect(letter.to == ["pemkot-semarang/diskominfo"])
        #expect(letter.sender == Address(agency: "kemenpanrb", unit: "setmen"))
        #expect(Timestamp(text: letter.created) != nil)
    }

    @Test func recipientAgenciesAreDeduplicatedInOrder() {
        let letter = Fixtures.letter(to: ["bappenas/settama", "anri", "bappenas/pusdatin"], cc: ["anri/settama", "pemkot-bandung"])
        #expect(letter.recipientAgencies == ["bappenas", "anri", "pemkot-bandung"])
    }

    // MARK: - Each rule names its field

    @Test func version() {
        var l = Fixtures.letter(); l.v = 2
        #expect(failingField(l) == "v")
    }

    @Test func kind() {
        var l = Fixtures.letter(); l.kind = "receipt"
        #expect(failingField(l) == "kind")
    }

    @Test(arguments: ["", "nope", "01ARZ3NDEKTSV4RRFFQ69G5FAU"])
    func id(id: String) {
        var l = Fixtures.letter(); l.id = id
        #expect(failingField(l) == "id")
    }

    @Test(arguments: ["", "Kemenpanrb", "kemenpanrb/", "a/b/c"])
    func from(from: String) {
        var l = Fixtures.letter(); l.from = from
        #expect(failingField(l) == "from")
    }

    @Test func created() {
        var l = Fixtures.letter(); l.created = "2026-12-03T19:52:38+07:00"
        #expect(failingField(l) == "created")
    }

    @Test func number() {
        var l = Fixtures.letter(); l.number = ""
        #expect(failingField(l) == "number")
        l.number = String(repeating: "9", count: Limits.maxNumberCharacters + 1)
        #expect(failingField(l) == "number")
        l.number = String(repeating: "9", count: Limits.maxNumberCharacters)
        #expect(failingField(l) == nil)
    }

    @Test(arguments: ["", "2026-02-30", "03-12-2026", "2026-12-03T00:00:00Z", "2026-13-01"])
    func date(date: String) {
        var l = Fixtures.letter(); l.date = date
        #expect(failingField(l) == "date")
    }

    @Test func noRecipient() {
        var l = Fixtures.letter(); l.to = []; l.cc = ["anri"]
        let e = failure(l)
        #expect(e?.field == "to")
        #expect(e?.reason.contains("at least one") == true)
    }

    @Test func tooManyRecipients() {
        var l = Fixtures.letter()
        l.to = (0..<600).map { "agency-\($0)" }
        l.cc = (0..<(Limits.maxRecipients - 600 + 1)).map { "copy-\($0)" }
        let e = failure(l)
        #expect(e?.field == "to")
        #expect(e?.reason.contains("\(Limits.maxRecipients)") == true)
        l.cc.removeLast()
        #expect(failingField(l) == nil)
    }

    @Test func badRecipientAddresses() {
        var l = Fixtures.letter(); l.to = ["bappenas", "Bad Agency"]
        #expect(failingField(l) == "to")
        l = Fixtures.letter(); l.cc = ["anri/"]
        #expect(failingField(l) == "cc")
    }

    @Test(arguments: ["", "   ", "\n\t"])
    func emptySubject(subject: String) {
        var l = Fixtures.letter(); l.subject = subject
        let e = failure(l)
        #expect(e?.field == "subject")
        #expect(e?.reason == "must not be empty")
        #expect(e?.description == "subject: must not be empty")
    }

    @Test func longSubject() {
        var l = Fixtures.letter(); l.subject = String(repeating: "s", count: Limits.maxSubjectCharacters + 1)
        #expect(failingField(l) == "subject")
        l.subject = String(repeating: "é", count: Limits.maxSubjectCharacters)  // characters, not bytes
        #expect(failingField(l) == nil)
    }

    @Test func bodyLimitIsInBytes() {
        var l = Fixtures.letter(); l.body = String(repeating: "x", count: Limits.maxBodyBytes)
        #expect(failingField(l) == nil)
        l.body = String(repeating: "é", count: Limits.maxBodyBytes / 2 + 1)
        let e = failure(l)
        #expect(e?.field == "body")
        #expect(e?.reason.contains("attachment") == true)
    }

    @Test(arguments: ["", "rahasia-banget", "Biasa", "sangat_rahasia", "secret"])
    func classification(value: String) {
        var l = Fixtures.letter(); l.classification = value
        let e = failure(l)
        #expect(e?.field == "classification")
        #expect(e?.reason.contains("biasa, terbatas, rahasia, sangat-rahasia") == true)
    }

    @Test(arguments: ["", "kilat", "SEGERA"])
    func urgency(value: String) {
        var l = Fixtures.letter(); l.urgency = value
        #expect(failingField(l) == "urgency")
    }

    @Test func replyTo() {
        var l = Fixtures.letter(); l.replyTo = "B/123/2026"
        #expect(failingField(l) == "replyTo")
        l.replyTo = MessageID.generate()
        #expect(failingField(l) == nil)
    }

    // MARK: - Attachments

    @Test func tooManyAttachments() {
        var l = Fixtures.letter()
        l.attachments = (0...Limits.maxAttachments).map { info("f\($0).pdf", size: 1) }
        #expect(failingField(l) == "attachments")
        l.attachments.removeLast()
        #expect(failingField(l) == nil)
    }

    @Test func totalAttachmentSizeOver32MiB() {
        var l = Fixtures.letter()
        l.attachments = [info("a.pdf", size: 20 << 20), info("b.pdf", size: 12 << 20)]
        #expect(failingField(l) == nil)  // exactly 32 MiB is allowed
        l.attachments[1].size += 1
        let e = failure(l)
        #expect(e?.field == "attachments")
        #expect(e?.reason.contains("32 MiB") == true)
        #expect(e?.reason.contains("\((32 << 20) + 1)") == true)
        l.attachments = [info(size: Limits.maxAttachmentBytes + 1)]
        #expect(failingField(l) == "attachments[0].size")
        // Sizes from the wire that would overflow a sum are refused, not added (this crashed the broker).
        l.attachments = [info("a.pdf", size: 1 << 62), info("b.pdf", size: 1 << 62)]
        #expect(failingField(l) == "attachments[0].size")
        l.attachments = [info("a.pdf", size: Int.max)]
        #expect(failingField(l) == "attachments[0].size")
    }

    @Test(arguments: ["", "a/b.pdf", "/etc/passwd", "..", ".", String(repeating: "n", count: 256)])
    func attachmentName(name: String) {
        var l = Fixtures.letter(); l.attachments = [info(), info(name)]
        #expect(failingField(l) == "attachments[1].name")
    }

    @Test func attachmentNegativeSize() {
        var l = Fixtures.letter(); l.attachments = [info(size: -1)]
        #expect(failingField(l) == "attachments[0].size")
    }

    @Test(arguments: ["", "pdf", String(repeating: "a", count: 64) + "/" + String(repeating: "b", count: 64)])
    func attachmentMediaType(mediaType: String) {
        var l = Fixtures.letter(); l.attachments = [info(mediaType: mediaType)]
        #expect(failingField(l) == "attachments[0].mediaType")
    }

    @Test(arguments: ["", "abc", String(repeating: "g", count: 64), String(repeating: "a", count: 63), String(repeating: "a", count: 66)])
    func attachmentDigest(sha256: String) {
        var l = Fixtures.letter(); l.attachments = [info(sha256: sha256)]
        #expect(failingField(l) == "attachments[0].sha256")
    }

    @Test func uppercaseDigestIsAccepted() {
        var l = Fixtures.letter(); l.attachments = [info(sha256: String(repeating: "AB", count: 32))]
        #expect(failingField(l) == nil)
    }
}

@Suite("Classification and Urgency")
struct ClassificationTests {
    @Test func parseEveryCase() throws {
        for c in Classification.allCases { #expect(try Classification.parse(c.rawValue) == c) }
        for u in Urgency.allCases { #expect(try Urgency.parse(u.rawValue) == u) }
        #expect(Classification.sangatRahasia.rawValue == "sangat-rahasia")
        #expect(Urgency.sangatSegera.rawValue == "sangat-segera")
    }

    @Test func parseErrorNamesTheField() {
        #expect(throws: ValidationError(field: "--classification", reason: "'top' is not one of biasa, terbatas, rahasia, sangat-rahasia")) {
            try Classification.parse("top", field: "--classification")
        }
        #expect(throws: ValidationError(field: "urgency", reason: "'kilat' is not one of biasa, segera, sangat-segera")) {
            try Urgency.parse("kilat")
        }
    }
}
