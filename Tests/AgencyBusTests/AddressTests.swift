import Testing
@testable import AgencyBus

@Suite("Address and Slug")
struct AddressTests {
    @Test func agencyOnly() throws {
        let a = try Address(parsing: "pemkot-semarang")
        #expect(a.agency == "pemkot-semarang")
        #expect(a.unit == nil)
        #expect(a.description == "pemkot-semarang")
    }

    @Test func agencyAndUnit() throws {
        let a = try Address(parsing: "pemkot-semarang/diskominfo")
        #expect(a == Address(agency: "pemkot-semarang", unit: "diskominfo"))
        #expect(a.description == "pemkot-semarang/diskominfo")
        #expect(try Address(parsing: a.description) == a)
    }

    @Test func ordering() throws {
        let list = try ["b", "a/z", "a", "a/b"].map { try Address(parsing: $0) }
        #expect(list.sorted().map(\.description) == ["a", "a/b", "a/z", "b"])
    }

    @Test(arguments: ["", "/", "a/b/c", "a//b", "a/", "/b"])
    func wrongShape(text: String) {
        do {
            _ = try Address(parsing: text)
            Issue.record("'\(text)' parsed")
        } catch let e as ValidationError {
            #expect(e.field == "address")
            #expect(e.reason.contains("'\(text)'"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func reasonNamesThePartThatIsWrong() throws {
        #expect(throws: ValidationError(field: "address", reason: "'Pemkot/setda': agency id 'Pemkot' is not a slug (lowercase letters, digits and '-', 1–64 characters)")) {
            try Address(parsing: "Pemkot/setda")
        }
        #expect(throws: ValidationError(field: "address", reason: "'pemkot/Setda': unit id 'Setda' is not a slug (lowercase letters, digits and '-', 1–64 characters)")) {
            try Address(parsing: "pemkot/Setda")
        }
        #expect(throws: ValidationError(field: "address", reason: "'a/b/c' is not AGENCY or AGENCY/UNIT")) {
            try Address(parsing: "a/b/c")
        }
    }

    @Test(arguments: ["a", "z9", "0", "kemenpanrb", "pemkot-semarang", "a-b-c", String(repeating: "x", count: 64)])
    func validSlugs(text: String) {
        #expect(Slug.isValid(text))
    }

    @Test(arguments: ["", "-a", "a-", "a--b", "A", "a_b", "a.b", "a b", "é", String(repeating: "x", count: 65), "ａ"])
    func invalidSlugs(text: String) {
        #expect(!Slug.isValid(text))
        #expect(throws: ValidationError.self) { try Address(parsing: text) }
    }
}
