import Foundation
@testable import AgencyBus

// Shared values for the unit tests: temp directories, valid letters, sealed envelopes.
// Integration tests (real processes) use Harness.swift instead.

/// A fresh directory under the system temp dir, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init(_ label: String = "agencybus-test") throws {
        var template = Array((NSTemporaryDirectory() + "/\(label)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "mkdtemp failed: errno \(errno)"])
        }
        url = URL(fileURLWithPath: String(cString: made), isDirectory: true)
    }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit {
        if ProcessInfo.processInfo.environment["AGENCYBUS_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(at: url)
        }
    }
}

enum Fixtures {
    /// The repository root, found from this file's path (Tests/AgencyBusTests/Fixtures.swift).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var demoTopologyPath: String { packageRoot.appendingPathComponent("topology/demo.json").path }

    /// The real paper used as a text attachment: the team's `../shared/data/` next to the
    /// repository when it is there, else the identical copy in `data/` (data/README.md).
    static var paperPath: String {
        let name = "sawala-2024-e-government-e-office.txt"
        let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/\(name)").path
        return FileManager.default.fileExists(atPath: shared) ? shared : packageRoot.appendingPathComponent("data/\(name)").path
    }

    /// A letter that passes `validate()`; tests change one field at a time.
    static func letter(id: String = MessageID.generate(), from: String = "kemenpanrb",
                       to: [String] = ["bappenas"], cc: [String] = [],
                       subject: String = "Undangan rapat koordinasi", body: String = "Dengan hormat, ...",
                       attachments: [Data] = [], created: Timestamp = .now()) -> Letter {
        Letter(id: id, from: try! Address(parsing: from), created: created,  // try!: fixed valid literals
               number: "B/123/M.PANRB/12/2026", date: "2026-12-03",
               to: to.map { try! Address(parsing: $0) }, cc: cc.map { try! Address(parsing: $0) },
               subject: subject, body: body, classification: .biasa, urgency: .segera, replyTo: nil,
               attachments: attachments.enumerated().map { i, data in
                   AttachmentInfo(name: "lampiran-\(i).pdf", size: data.count, mediaType: "application/pdf",
                                  sha256: SHA256.hash(data).hexString)
               })
    }

    /// A signed letter envelope carrying `attachments`.
    static func sealedLetter(key: SecretKey, id: String = MessageID.generate(), from: String = "kemenpanrb",
                             to: [String] = ["bappenas"], subject: String = "Undangan rapat koordinasi",
                             attachments: [Data] = []) throws -> Envelope {
        let l = letter(id: id, from: from, to: to, subject: subject, attachments: attachments)
        return try Envelope.seal(l, attachments: attachments, with: key)
    }

    /// `count` pseudo-random bytes (not for secrets; just distinct content).
    static func bytes(_ count: Int, seed: UInt8 = 7) -> Data {
        var out = Data(count: count)
        var x = UInt32(seed) &* 2_654_435_761 | 1
        for i in 0..<count {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            out[i] = UInt8(truncatingIfNeeded: x)
        }
        return out
    }

    static func json(_ object: Any) -> Data {
        try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])  // try!: literal dictionaries only
    }
}

extension Data {
    /// A copy with byte `index` XORed with `mask`.
    func flipping(_ index: Int, mask: UInt8 = 0x01) -> Data {
        var copy = self
        copy[copy.startIndex + index] ^= mask
        return copy
    }
}
