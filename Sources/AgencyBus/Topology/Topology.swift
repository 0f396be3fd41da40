import Foundation

/// The bus's membership: brokers, agencies (with units) and operators, with their public keys.
/// Ops own this file; brokers read it at start, nodes at every start.
public struct Topology: Codable, Sendable {
    public struct Broker: Codable, Sendable {
        public var id: String
        public var endpoint: String
        public var publicKey: String
    }
    public struct Unit: Codable, Sendable {
        public var id: String
        public var name: String
    }
    public struct Agency: Codable, Sendable {
        public var id: String
        public var name: String
        public var broker: String
        public var publicKey: String
        public var units: [Unit]
        /// IANA time zone of the agency (e.g. "Asia/Jakarta"); optional.
        public var timeZone: String?
        /// A revoked agency is refused at the broker, but its key stays here so that what it
        /// signed before stays verifiable.
        public var revoked: Bool?
        /// Keys this agency signed with before a rotation (`bus-cli rekey`). Each verifies what
        /// was created up to its `retired` time; none of them is admitted to connect.
        public var formerKeys: [FormerKey]?

        public init(id: String, name: String, broker: String, publicKey: String, units: [Unit], timeZone: String? = nil,
                    revoked: Bool? = nil, formerKeys: [FormerKey]? = nil) {
            self.id = id; self.name = name; self.broker = broker; self.publicKey = publicKey; self.units = units
            self.timeZone = timeZone; self.revoked = revoked; self.formerKeys = formerKeys
        }
    }
    /// A rotated-out signing key and when it stopped signing (RFC 3339 UTC).
    public struct FormerKey: Codable, Sendable, Equatable {
        public var publicKey: String
        public var retired: String
        public init(publicKey: String, retired: String) { self.publicKey = publicKey; self.retired = retired }
    }
    public struct Operator: Codable, Sendable {
        public var id: String
        public var publicKey: String
        public var revoked: Bool?
        /// Grants this operator letter content (subject, body, notes) on the operator stream.
        /// Absent or false: metadata only (ids, kinds, agencies, sizes, times, reasons).
        public var content: Bool?

        public init(id: String, publicKey: String, revoked: Bool? = nil, content: Bool? = nil) {
            self.id = id; self.publicKey = publicKey; self.revoked = revoked; self.content = content
        }
    }

    public func `operator`(_ id: String) -> Operator? { operators.first { $0.id == id } }

    public var brokers: [Broker]
    public var agencies: [Agency]
    public var operators: [Operator]

    public init(brokers: [Broker], agencies: [Agency], operators: [Operator]) {
        self.brokers = brokers; self.agencies = agencies; self.operators = operators
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        brokers = try c.decode([Broker].self, forKey: .brokers)
        agencies = try c.decode([Agency].self, forKey: .agencies)
        operators = try c.decodeIfPresent([Operator].self, forKey: .operators) ?? []
    }

    /// Reads and validates a topology file. Errors name the file and the exact entry.
    public static func load(path: String) throws -> Topology {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TopologyError(path: path, problems: ["cannot read the file (does it exist?)"])
        }
        let topology: Topology
        do {
            topology = try JSONDecoder().decode(Topology.self, from: data)
        } catch let error as DecodingError {
            throw TopologyError(path: path, problems: [Self.explain(error)])
        }
        let problems = topology.problems()
        guard problems.isEmpty else { throw TopologyError(path: path, problems: problems) }
        return topology
    }

    /// Every rule the topology breaks, each naming the entry (empty when valid).
    public func problems() -> [String] {
        var out: [String] = []
        var ids: [String: String] = [:]
        func claim(_ id: String, _ what: String) {
            if let other = ids[id] { out.append("\(what): id '\(id)' is already used by \(other)") } else { ids[id] = what }
        }
        func checkKey(_ text: String, _ what: String, optional: Bool) {
            if text.isEmpty {
                if !optional { out.append("\(what): publicKey is empty") }
                return
            }
            do { _ = try PublicKey(text: text) } catch { out.append("\(what): publicKey \(error)") }
        }
        if brokers.isEmpty { out.append("brokers: at least one broker is needed") }
        for (i, b) in brokers.enumerated() {
            let what = "brokers[\(i)] '\(b.id)'"
            if !Slug.isValid(b.id) { out.append("\(what): id is not a slug (lowercase letters, digits, '-')") }
            claim(b.id, "broker '\(b.id)'")
            if !(b.endpoint.hasPrefix("tcp://") || b.endpoint.hasPrefix("ipc://")) {
                out.append("\(what): endpoint '\(b.endpoint)' must start with tcp:// or ipc://")
            }
            checkKey(b.publicKey, what, optional: true)
        }
        let brokerIDs = Set(brokers.map(\.id))
        var keys: [String: String] = [:]
        for (i, a) in agencies.enumerated() {
            let what = "agencies[\(i)] '\(a.id)'"
            if !Slug.isValid(a.id) { out.append("\(what): id is not a slug (lowercase letters, digits, '-')") }
            if a.id == "broker" { out.append("\(what): 'broker' is reserved") }
            claim(a.id, "agency '\(a.id)'")
            if a.name.trimmingCharacters(in: .whitespaces).isEmpty { out.append("\(what): name is empty") }
            if !brokerIDs.contains(a.broker) { out.append("\(what): unknown broker '\(a.broker)'") }
            checkKey(a.publicKey, what, optional: true)
            if !a.publicKey.isEmpty {
                if let other = keys[a.publicKey] { out.append("\(what): publicKey is the same as \(other)'s") }
                keys[a.publicKey] = "agency '\(a.id)'"
            }
            for (j, f) in (a.formerKeys ?? []).enumerated() {
                let former = "\(what).formerKeys[\(j)]"
                checkKey(f.publicKey, former, optional: false)
                if Timestamp(text: f.retired) == nil { out.append("\(former): retired '\(f.retired)' is not an RFC 3339 UTC time like 2026-12-03T19:52:38.123Z") }
                if !f.publicKey.isEmpty {
                    if let other = keys[f.publicKey] { out.append("\(former): publicKey is the same as \(other)'s") }
                    keys[f.publicKey] = "agency '\(a.id)' (former key)"
                }
            }
            var units = Set<String>()
            for (j, u) in a.units.enumerated() {
                if !Slug.isValid(u.id) { out.append("\(what).units[\(j)] '\(u.id)': id is not a slug") }
                if !units.insert(u.id).inserted { out.append("\(what).units[\(j)]: duplicate unit id '\(u.id)'") }
            }
            if let tz = a.timeZone, TimeZone(identifier: tz) == nil {
                out.append("\(what): timeZone '\(tz)' is not an IANA zone name like Asia/Jakarta")
            }
        }
        for (i, o) in operators.enumerated() {
            let what = "operators[\(i)] '\(o.id)'"
            if !Slug.isValid(o.id) { out.append("\(what): id is not a slug") }
            claim(o.id, "operator '\(o.id)'")
            checkKey(o.publicKey, what, optional: true)
            if !o.publicKey.isEmpty {
                if let other = keys[o.publicKey] { out.append("\(what): publicKey is the same as \(other)'s") }
                keys[o.publicKey] = "operator '\(o.id)'"
            }
        }
        return out
    }

    public func agency(_ id: String) -> Agency? { agencies.first { $0.id == id } }
    public func broker(_ id: String) -> Broker? { brokers.first { $0.id == id } }

    /// The agency's signing key, when the topology knows it.
    public func publicKey(ofAgency id: String) -> PublicKey? {
        guard let a = agency(id), !a.publicKey.isEmpty else { return nil }
        return try? PublicKey(text: a.publicKey)
    }

    /// Every key that may have signed a message the agency created at `created`: its current
    /// key first, then each former key retired at or after that time. Empty when none is known.
    public func verificationKeys(ofAgency id: String, created: String) -> [PublicKey] {
        guard let a = agency(id) else { return [] }
        var keys: [PublicKey] = []
        if !a.publicKey.isEmpty, let k = try? PublicKey(text: a.publicKey) { keys.append(k) }
        for f in a.formerKeys ?? [] {
            guard let retired = Timestamp(text: f.retired), Self.keyMaySign(retired: retired, created: created),
                  let k = try? PublicKey(text: f.publicKey) else { continue }
            keys.append(k)
        }
        return keys
    }

    /// The rotation rule, one place for the topology and the archive: a current key (`retired`
    /// nil) may have signed anything; a former key only what was created up to its retirement.
    public static func keyMaySign(retired: Timestamp?, created: String) -> Bool {
        guard let retired else { return true }
        guard let made = Timestamp(text: created) else { return false }
        return made.milliseconds <= retired.milliseconds
    }

    /// Checks that an address names a known agency and, if given, one of its units.
    public func check(_ address: Address, field: String) throws {
        guard let a = agency(address.agency) else {
            throw ValidationError(field: field, reason: "unknown agency '\(address.agency)' (not in the topology; known: \(agencies.map(\.id).joined(separator: ", ")))")
        }
        // A revoked agency can no longer connect: mail for it would wait forever.
        if a.revoked == true {
            throw ValidationError(field: field, reason: "agency '\(a.id)' is revoked in the topology (it can no longer receive); ask ops")
        }
        if let unit = address.unit, !a.units.contains(where: { $0.id == unit }) {
            throw ValidationError(field: field, reason: "agency '\(a.id)' has no unit '\(unit)' (known: \(a.units.map(\.id).joined(separator: ", ")))")
        }
    }

    /// Writes the topology back as indented JSON (used by `bus-broker set-topology`).
    public func write(path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
        try e.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func explain(_ error: DecodingError) -> String {
        func path(_ ctx: DecodingError.Context) -> String {
            ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let ctx): return "\(path(ctx)): missing field '\(key.stringValue)'"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx): return "\(path(ctx)): \(ctx.debugDescription)"
        case .dataCorrupted(let ctx): return "not valid JSON: \(ctx.underlyingError.map { "\($0)" } ?? ctx.debugDescription)"
        @unknown default: return "not a topology"
        }
    }
}

public struct TopologyError: Error, CustomStringConvertible {
    public let path: String
    public let problems: [String]
    public init(path: String, problems: [String]) { self.path = path; self.problems = problems }
    public var description: String {
        "topology \(path) is not valid:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
