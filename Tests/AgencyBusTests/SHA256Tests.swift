import Foundation
import Testing
@testable import AgencyBus

/// SHA-256 (libcrypto) against the FIPS 180-2 vectors, in one piece and streamed.
@Suite("SHA-256")
struct SHA256Tests {
    @Test func knownAnswers() {
        #expect(SHA256.hash(Data()).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(Data("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hash(million).hexString == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingMatchesOnePieceAndCopiesGoOnAlone() throws {
        let data = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var stream = SHA256Stream()
        stream.update(data.prefix(12_345))
        let halfway = stream            // a copy taken mid-stream
        stream.update(data.dropFirst(12_345))
        #expect(stream.digest() == SHA256.hash(data))
        #expect(stream.digest() == SHA256.hash(data), "digest() does not end the stream")
        #expect(halfway.digest() == SHA256.hash(data.prefix(12_345)), "the copy was changed by the original's update")

        let dir = try TemporaryDirectory()
        let path = dir.file("blob")
        try data.write(to: URL(fileURLWithPath: path))
        let file = try SHA256.hash(fileAt: URL(fileURLWithPath: path))
        #expect(file.digest == SHA256.hash(data) && file.size == data.count)
    }
}
