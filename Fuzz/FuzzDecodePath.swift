import Foundation
#if !AGENCYBUS_FUZZ_BUILD
// The fuzz build compiles this file into the library's own module (see Fuzz/fuzz.sh);
// the test target (Tests/AgencyBusTests/FuzzDecodePath.swift is a symlink to this file)
// imports the library like any client.
import AgencyBus
#endif

/// The decode path that the fuzz targets drive and `FuzzRegressionTests` replays: every
/// parser that hostile bytes from the wire (or an operator's file) can reach, called the way
/// the broker and the node call them. One copy, shared by both, so a regression input runs
/// through exactly the code that crashed.
///
/// Two targets:
/// - `wire`: the input is split into ZeroMQ frames (`frames(_:)`) and decoded as a
///   `ClientCommand` (behind a routing-id frame, as the broker's ROUTER sees it) and as a
///   `BrokerCommand` (as a node sees it); every envelope that decodes goes on through the
///   envelope path, a TRACED report through the TraceReport decoder.
/// - `header`: the input is one header frame (JSON): `Envelope(header:…)`, every kind's
///   decode + validate, TraceReport and Topology decoding (+ `problems()`), and the text
///   parsers (`Timestamp(text:)`, `Address(parsing:)`, `CalendarDate`, `MessageID`).
///
/// A step may decode or throw a refusal (`ProtocolError`, `ValidationError`,
/// `DecodingError`); anything else, or a decoded command that does not survive its own
/// `encode()`, is recorded in `unexpected`. The fuzzer traps on it; the tests expect none.
enum FuzzDecodePath {
    /// What one input did.
    struct Outcome {
        /// Steps that decoded (or validated).
        var decoded: [String] = []
        /// Steps refused with an expected error type.
        var refused: [String] = []
        /// Steps that threw an unexpected error type or broke an invariant.
        var unexpected: [String] = []
    }

    static let targets = ["wire", "header"]

    /// Runs `input` through the named target's path.
    static func run(target: String, _ input: Data) -> Outcome {
        switch target {
        case "wire": return wire(input)
        case "header": return header(input)
        default: return Outcome(unexpected: ["unknown fuzz target '\(target)'"])
        }
    }

    // MARK: - Input layout

    /// At most this many frames per input: enough for a command with a few attachments.
    static let maxFrames = 16

    /// Splits a fuzz input into frames. Byte 0: the frame count (low 4 bits, so 0–15; the
    /// high bits are free for the mutator). Then each frame: a 2-byte big-endian length and
    /// that many bytes. A length beyond the end takes what is left; frames past the end are
    /// empty. Every byte string is some valid input, so mutations never fall off the format.
    static func frames(_ input: Data) -> [Data] {
        let bytes = [UInt8](input)
        guard let first = bytes.first else { return [] }
        let count = Int(first & 0x0f)
        var out: [Data] = []
        var at = 1
        for _ in 0..<count {
            guard at + 2 <= bytes.count else { out.append(Data()); at = bytes.count; continue }
            let length = Int(bytes[at]) << 8 | Int(bytes[at + 1])
            at += 2
            let end = min(at + length, bytes.count)
            out.append(Data(bytes[at..<end]))
            at = end
        }
        return out
    }

    /// The inverse of `frames(_:)`, for seed and regression inputs (each frame < 64 KiB).
    static func input(frames: [Data]) -> Data {
        precondition(frames.count < maxFrames, "at most \(maxFrames - 1) frames")
        var out = Data([UInt8(frames.count)])
        for f in frames {
            precondition(f.count <= 0xffff, "a frame of a fuzz input holds at most 65535 bytes")
            out.append(contentsOf: [UInt8(f.count >> 8), UInt8(f.count & 0xff)])
            out.append(f)
        }
        return out
    }

    // MARK: - Targets

    static func wire(_ input: Data) -> Outcome {
        var o = Outcome()
        let frames = frames(input)

        // As the broker sees it: ROUTER puts the routing id first, and Broker decodes
        // `frames.dropFirst()`, a slice that does not start at index 0.
        let routed = [Data([0, 0x6b, 0x8b, 0x45, 0x67])] + frames
        if let command = o.step("ClientCommand.decode", { try ClientCommand.decode(routed.dropFirst()) }) {
            switch command {
            case .submit(let e), .receipt(let e): envelopePath(e, &o)
            default: break  // no payload beyond what decode checked (new commands land here)
            }
            o.step("ClientCommand round trip") {
                let again = try ClientCommand.decode(command.encode()[...])
                guard again.name == command.name else {
                    throw Unexpected("\(command.name) re-decoded as \(again.name)")
                }
            }
        }

        // As a node sees it (DEALER: no routing id).
        if let command = o.step("BrokerCommand.decode", { try BrokerCommand.decode(frames[...]) }) {
            switch command {
            case .accepted(let e), .deliver(let e): envelopePath(e, &o)
            case .traced(let json): traceReport(json, &o)
            // What an operator client (stats, tail, watch) does with the broker's JSON.
            case .stats(let json):
                o.step("decode BrokerStatsSnapshot") {
                    let s = try BrokerStatsSnapshot.decode(json)
                    _ = (s.agenciesByProblem.map(\.problemTier), s.json())
                }
            case .event(let json):
                o.step("decode BrokerEvent") {
                    let e = try JSONDecoder().decode(BrokerEvent.self, from: json)
                    _ = (e.redacted(), e.json())
                }
            default: break  // no payload beyond what decode checked (new commands land here)
            }
            o.step("BrokerCommand round trip") {
                let again = try BrokerCommand.decode(command.encode()[...])
                guard again.name == command.name else {
                    throw Unexpected("\(command.name) re-decoded as \(again.name)")
                }
            }
        }
        return o
    }

    static func header(_ input: Data) -> Outcome {
        var o = Outcome()
        // A well-formed (not valid) signature: Envelope checks only its length.
        let signature = Data(repeating: 0x5a, count: 64)
        if let e = o.step("Envelope.init", { try Envelope(header: input, signature: signature, attachments: []) }) {
            envelopePath(e, &o)
        }
        // Every kind's decoder and validator, whatever `kind` says, so the validators are
        // reached even by headers that fail the common checks.
        let decoder = JSONDecoder()
        if let l = o.step("decode Letter", { try decoder.decode(Letter.self, from: input) }) {
            o.step("Letter.validate") { try l.validate() }
        }
        if let d = o.step("decode Disposition", { try decoder.decode(Disposition.self, from: input) }) {
            o.step("Disposition.validate") { try d.validate() }
        }
        if let s = o.step("decode StatusUpdate", { try decoder.decode(StatusUpdate.self, from: input) }) {
            o.step("StatusUpdate.validate") { try s.validate() }
        }
        if let r = o.step("decode Receipt", { try decoder.decode(Receipt.self, from: input) }) {
            o.step("Receipt.validate") { try r.validate() }
        }
        o.step("decode Acceptance") { _ = try decoder.decode(Acceptance.self, from: input) }
        traceReport(input, &o)
        if let t = o.step("decode Topology", { try decoder.decode(Topology.self, from: input) }) {
            o.step("Topology.problems") { _ = t.problems() }
        }
        if let text = String(data: input, encoding: .utf8) {
            textParsers(text, &o)
        }
        return o
    }

    // MARK: - Shared steps

    /// What the broker and the node do with an envelope before (and apart from) the
    /// signature check: decode it as its kind, validate, and read the derived fields.
    static func envelopePath(_ e: Envelope, _ o: inout Outcome) {
        _ = (e.id, e.kind, e.signerID, e.hash, e.frames)
        switch e.kind {
        case "letter":
            if let l = o.step("Envelope.decode(Letter)", { try e.decode(Letter.self) }) {
                o.step("Letter.validate") {
                    try l.validate()
                    _ = (l.sender, l.recipientAgencies)
                }
            }
        case "disposition":
            if let d = o.step("Envelope.decode(Disposition)", { try e.decode(Disposition.self) }) {
                o.step("Disposition.validate") {
                    try d.validate()
                    _ = (try Address(parsing: d.from), d.recipientAgencies)
                }
            }
        case "status":
            if let s = o.step("Envelope.decode(StatusUpdate)", { try e.decode(StatusUpdate.self) }) {
                o.step("StatusUpdate.validate") {
                    try s.validate()
                    _ = try Address(parsing: s.from)
                }
            }
        case "receipt":
            if let r = o.step("Envelope.decode(Receipt)", { try e.decode(Receipt.self) }) {
                o.step("Receipt.validate") { try r.validate() }
            }
        case "acceptance":
            o.step("Envelope.decode(Acceptance)") { _ = try e.decode(Acceptance.self) }
        default:
            break
        }
    }

    static func traceReport(_ json: Data, _ o: inout Outcome) {
        o.step("decode TraceReport") {
            let report = try JSONDecoder().decode(TraceReport.self, from: json)
            // What `bus-cli trace` prints for each event.
            for event in report.events { _ = event.at.text }
        }
    }

    static func textParsers(_ text: String, _ o: inout Outcome) {
        if let t = Timestamp(text: text) {
            _ = (t.text, t.date)
            o.decoded.append("Timestamp(text:)")
        }
        o.step("Address(parsing:)") {
            let a = try Address(parsing: text)
            guard a.description == text else { throw Unexpected("Address '\(text)' prints as '\(a)'") }
        }
        if CalendarDate.isValid(text) { o.decoded.append("CalendarDate") }
        if MessageID.isValid(text) {
            _ = MessageID.timestamp(of: text)
            o.decoded.append("MessageID")
        }
        _ = (Slug.isValid(text), Data(hexString: text))
    }

    /// An invariant the decode path expects to hold, broken.
    struct Unexpected: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

extension FuzzDecodePath.Outcome {
    /// Runs one step, sorting its error into `refused` (a clean refusal) or `unexpected`.
    @discardableResult
    mutating func step<T>(_ name: String, _ body: () throws -> T) -> T? {
        do {
            let value = try body()
            decoded.append(name)
            return value
        } catch is ProtocolError, is ValidationError, is DecodingError {
            refused.append(name)
        } catch {
            unexpected.append("\(name): \(type(of: error)): \(error)")
        }
        return nil
    }
}
