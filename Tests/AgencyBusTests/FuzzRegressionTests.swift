import Foundation
import Testing
@testable import AgencyBus

/// Replays every input the fuzzer ever crashed on (`FuzzCrashes/`, named `<target>-<what>`)
/// and the seed corpus (`Fuzz/corpus/<target>/`) through `FuzzDecodePath`, the same code the
/// libFuzzer targets run (FuzzDecodePath.swift here is a symlink to Fuzz/FuzzDecodePath.swift).
/// A crash kills the test process; otherwise each input must decode or be refused with
/// ProtocolError, ValidationError or DecodingError, and nothing else.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// Tests/AgencyBusTests, found from this file's path (no Bundle: plain file access).
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let crashesDirectory = testsDirectory.appendingPathComponent("FuzzCrashes")
    static let corpusDirectory = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").appendingPathComponent("corpus")

    static func files(in directory: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0).path }
    }

    /// `FuzzCrashes/<target>-<what>`: the target is the name up to the first '-'.
    static let crashFiles = files(in: crashesDirectory)
    static let seedFiles = FuzzDecodePath.targets.flatMap { files(in: corpusDirectory.appendingPathComponent($0)) }

    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        return data
    }

    @Test("every crash input replays without a crash or an unexpected error", arguments: crashFiles)
    func crashInput(_ path: String) throws {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let target = String(name.prefix { $0 != "-" })
        try #require(FuzzDecodePath.targets.contains(target),
                     "\(name): a regression file is named <target>-<what>, target one of \(FuzzDecodePath.targets)")
        let outcome = FuzzDecodePath.run(target: target, try Self.read(path))
        #expect(outcome.unexpected.isEmpty, "\(name): \(outcome.unexpected)")
    }

    @Test("every seed replays cleanly and reaches a decoder", arguments: seedFiles)
    func seed(_ path: String) throws {
        let url = URL(fileURLWithPath: path)
        let target = url.deletingLastPathComponent().lastPathComponent
        let outcome = FuzzDecodePath.run(target: target, try Self.read(path))
        #expect(outcome.unexpected.isEmpty, "\(url.lastPathComponent): \(outcome.unexpected)")
        // A seed that no decoder accepts teaches the fuzzer little (e.g. a header format
        // changed and Fuzz/make-seeds.py was not rerun); only `garbage-…` seeds are meant so.
        #expect(url.lastPathComponent.hasPrefix("garbage-") || !outcome.decoded.isEmpty, "\(target)/\(url.lastPathComponent) decodes nowhere: \(outcome.refused)")
    }

    @Test func directoriesAreFound() {
        // Crash inputs are kept as they are found; the directory exists (with its .keep) even
        // while it holds none, so a moved or misspelt path fails here instead of passing empty.
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: Self.crashesDirectory.path, isDirectory: &isDirectory) && isDirectory.boolValue,
                "\(Self.crashesDirectory.path) is missing")
        for target in FuzzDecodePath.targets {
            #expect(Self.seedFiles.contains { $0.contains("/corpus/\(target)/") }, "no seeds for \(target) in \(Self.corpusDirectory.path)")
        }
    }

    @Test func frameLayoutRoundTrips() {
        let frames = [Data("AGB1".utf8), Data(), Data(repeating: 7, count: 300)]
        #expect(FuzzDecodePath.frames(FuzzDecodePath.input(frames: frames)) == frames)
        // Lengths past the end are cut and missing frames are empty: every input is valid.
        #expect(FuzzDecodePath.frames(Data([3, 0xff, 0xff, 0x41])) == [Data([0x41]), Data(), Data()])
        #expect(FuzzDecodePath.frames(Data()) == [])
    }
}
