import Foundation
import Testing
@testable import AgencyBus

private func key() -> String { SecretKey.generate().publicKey.text }

/// A small valid topology: one broker, two agencies with units, one operator.
private func sample() -> Topology {
    Topology(
        brokers: [.init(id: "nasional", endpoint: "tcp://127.0.0.1:7450", publicKey: key())],
        agencies: [
            .init(id: "kemenpanrb", name: "Kementerian PANRB", broker: "nasional", publicKey: key(),
                  units: [.init(id: "setmen", name: "Sekretariat"), .init(id: "menteri", name: "Menteri")], timeZone: "Asia/Jakarta"),
            .init(id: "pemkot-makassar", name: "Pemkot Makassar", broker: "nasional", publicKey: "",
                  units: [], timeZone: "Asia/Makassar"),
        ],
        operators: [.init(id: "ops-nasional", publicKey: key())])
}

/// True when some problem mentions every one of `parts`.
private func mentions(_ problems: [String], _ parts: String...) -> Bool {
    problems.contains { p in parts.allSatisfy { p.contains($0) } }
}

@Suite("Topology")
struct TopologyTests {
    @Test func demoTopologyFromTheRepositoryIsValid() throws {
        let t = try Topology.load(path: Fixtures.demoTopologyPath)
        #expect(t.problems().isEmpty)
        #expect(t.brokers.map(\.id) == ["nasional"])
        #expect(t.agencies.count == 8)
        #expect(t.agency("pemkot-semarang")?.units.contains { $0.id == "diskominfo" } == true)
        #expect(t.operators.map(\.id) == ["ops-nasional"])
        // Keys are filled in per deployment.
        #expect(t.publicKey(ofAgency: "kemenpanrb") == nil)
    }

    @Test func sampleIsValid() {
        #expect(sample().problems() == [])
    }

    @Test func unknownBroker() {
        var t = sample()
        t.agencies[1].broker = "jateng"
        let p = t.problems()
        #expect(p.count == 1)
        #expect(mentions(p, "agencies[1] 'pemkot-makassar'", "unknown broker 'jateng'"))
    }

    @Test func duplicateAgencyID() {
        var t = sample()
        t.agencies[1].id = "kemenpanrb"
        t.agencies[1].publicKey = ""
        let p = t.problems()
        #expect(mentions(p, "'kemenpanrb'", "already used by agency 'kemenpanrb'"), "\(p)")
    }

    @Test func idsAreUniqueAcrossBrokersAgenciesAndOperators() {
        var t = sample()
        t.operators[0].id = "nasional"
        #expect(mentions(t.problems(), "operator 'nasional'", "already used by broker 'nasional'"))
    }

    @Test func formerKeysAreCheckedAndVerifyOnlyWhatWasSignedBeforeTheyRetired() throws {
        var t = sample()
        let old = SecretKey.generate(), current = try PublicKey(text: t.agencies[0].publicKey)
        t.agencies[0].formerKeys = [.init(publicKey: old.publicKey.text, retired: "2026-06-01T00:00:00.000Z")]
        #expect(t.problems().isEmpty, "\(t.problems())")
        // Current key first; the former key only for what was created up to its retirement.
        #expect(t.verificationKeys(ofAgency: "kemenpanrb", created: "2026-05-31T23:59:59.999Z") == [current, old.publicKey])
        #expect(t.verificationKeys(ofAgency: "kemenpanrb", created: "2026-06-01T00:00:00.000Z") == [current, old.publicKey])
        #expect(t.verificationKeys(ofAgency: "kemenpanrb", created: "2026-06-01T00:00:00.001Z") == [current])
        #expect(t.verificationKeys(ofAgency: "kemenpanrb", created: "garbage") == [current])
        #expect(t.verificationKeys(ofAgency: "pemkot-makassar", created: "2026-01-01T00:00:00.000Z").isEmpty)
        #expect(t.verificationKeys(ofAgency: "nobody", created: "2026-01-01T00:00:00.000Z").isEmpty)

        t.agencies[0].formerKeys = [.init(publicKey: "ed25519:bad", retired: "yesterday")]
        #expect(mentions(t.problems(), "agencies[0] 'kemenpanrb'.formerKeys[0]", "publicKey"))
        #expect(mentions(t.problems(), "formerKeys[0]", "retired 'yesterday'", "RFC 3339"))
        t.agencies[0].formerKeys = [.init(publicKey: t.agencies[0].publicKey, retired: "2026-06-01T00:00:00.000Z")]
        #expect(mentions(t.problems(), "formerKeys[0]", "same as"))
    }

    @Test func badKey() {
        var t = sample()
        t.agencies[0].publicKey = "ed25519:not-base64!"
        let p = t.problems()
        #expect(mentions(p, "agencies[0] 'kemenpanrb'", "publicKey", "base64"), "\(p)")
        t = sample()
        t.brokers[0].publicKey = "ssh-ed25519 AAAA"
        #expect(mentions(t.problems(), "brokers[0] 'nasional'", "publicKey", "ed25519:"))
        t = sample()
        t.operators[0].publicKey = "ed25519:" + Data(repeating: 1, count: 16).base64EncodedString()
        #expect(mentions(t.problems(), "operators[0] 'ops-nasional'", "32 bytes"))
    }

    @Test func sharedKey() {
        var t = sample()
        t.agencies[1].publicKey = t.agencies[0].publicKey
        #expect(mentions(t.problems(), "agencies[1] 'pemkot-makassar'", "same as agency 'kemenpanrb'"))
        t = sample()
        t.operators[0].publicKey = t.agencies[0].publicKey
        #expect(mentions(t.problems(), "operators[0]", "same as agency 'kemenpanrb'"))
    }

    @Test func duplicateUnit() {
        var t = sample()
        t.agencies[0].units.append(.init(id: "setmen", name: "Again"))
        let p = t.problems()
        #expect(p.count == 1)
        #expect(mentions(p, "agencies[0] 'kemenpanrb'.units[2]", "duplicate unit id 'setmen'"))
    }

    @Test func badSlugs() {
        var t = sample()
        t.agencies[0].id = "Kemen PANRB"
        t.agencies[0].units[0].id = "Set_Men"
        t.brokers[0].id = "-x"
        t.agencies[1].broker = "-x"
        let p = t.problems()
        #expect(mentions(p, "agencies[0] 'Kemen PANRB'", "not a slug"))
        #expect(mentions(p, "units[0] 'Set_Men'", "not a slug"))
        #expect(mentions(p, "brokers[0] '-x'", "not a slug"))
    }

    @Test func otherRules() {
        var t = sample()
        t.brokers[0].endpoint = "http://127.0.0.1:7450"
        t.agencies[0].name = "   "
        t.agencies[1].id = "broker"
        t.agencies[1].timeZone = "Jakarta"
        let p = t.problems()
        #expect(mentions(p, "brokers[0]", "endpoint 'http://127.0.0.1:7450'", "tcp://"))
        #expect(mentions(p, "agencies[0]", "name is empty"))
        #expect(mentions(p, "agencies[1] 'broker'", "reserved"))
        #expect(mentions(p, "timeZone 'Jakarta'"))
        #expect(Topology(brokers: [], agencies: [], operators: []).problems().contains { $0.hasPrefix("brokers:") })
    }

    @Test func writeThenLoad() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("t.json")
        let t = sample()
        try t.write(path: path)
        let back = try Topology.load(path: path)
        #expect(back.agencies.map(\.id) == t.agencies.map(\.id))
        #expect(back.brokers[0].publicKey == t.brokers[0].publicKey)
        #expect(back.agencies[0].units.map(\.id) == ["setmen", "menteri"])
        #expect(back.agencies[1].timeZone == "Asia/Makassar")
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("tcp://127.0.0.1:7450"))  // slashes unescaped
    }

    @Test func loadErrorsNameTheFileAndTheProblem() throws {
        let dir = try TemporaryDirectory()
        func loadError(_ content: String?) -> TopologyError? {
            let path = dir.file("t-\(UUID().uuidString).json")
            if let content { _ = FileManager.default.createFile(atPath: path, contents: Data(content.utf8)) }
            do { _ = try Topology.load(path: path); return nil } catch { return error as? TopologyError }
        }
        let missing = loadError(nil)
        #expect(missing?.problems.first?.contains("cannot read") == true)
        #expect(missing?.description.contains("topology \(dir.path)") == true)
        #expect(loadError("{ not json")?.problems.first?.contains("not valid JSON") == true)
        #expect(loadError("{\"brokers\": []}")?.problems.first?.contains("missing field 'agencies'") == true)
        let wrongType = loadError("{\"brokers\": [{\"id\": 1, \"endpoint\": \"tcp://x:1\", \"publicKey\": \"\"}], \"agencies\": []}")
        #expect(wrongType?.problems.first?.contains(".brokers[0].id") == true)
        // Valid JSON, broken rules: every problem is listed.
        let rules = loadError("{\"brokers\": [], \"agencies\": [{\"id\": \"a\", \"name\": \"\", \"broker\": \"x\", \"publicKey\": \"\", \"units\": []}]}")
        #expect((rules?.problems.count ?? 0) == 3)
    }

    @Test func operatorsAreOptional() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("t.json")
        let json = "{\"brokers\": [{\"id\": \"b\", \"endpoint\": \"ipc:///tmp/b\", \"publicKey\": \"\"}], \"agencies\": []}"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(json.utf8)))
        #expect(try Topology.load(path: path).operators.isEmpty)
    }

    @Test func checkAddresses() throws {
        let t = sample()
        try t.check(Address(agency: "kemenpanrb"), field: "to")
        try t.check(Address(agency: "kemenpanrb", unit: "setmen"), field: "to")
        #expect(throws: ValidationError(field: "to", reason: "unknown agency 'anri' (not in the topology; known: kemenpanrb, pemkot-makassar)")) {
            try t.check(Address(agency: "anri"), field: "to")
        }
        #expect(throws: ValidationError(field: "cc", reason: "agency 'kemenpanrb' has no unit 'deputi' (known: setmen, menteri)")) {
            try t.check(Address(agency: "kemenpanrb", unit: "deputi"), field: "cc")
        }
    }

    @Test func lookups() {
        let t = sample()
        #expect(t.agency("kemenpanrb")?.name == "Kementerian PANRB")
        #expect(t.agency("nasional") == nil)
        #expect(t.broker("nasional")?.endpoint == "tcp://127.0.0.1:7450")
        #expect(t.publicKey(ofAgency: "kemenpanrb")?.text == t.agencies[0].publicKey)
        #expect(t.publicKey(ofAgency: "pemkot-makassar") == nil)  // no key yet
        #expect(t.publicKey(ofAgency: "nobody") == nil)
    }
}
