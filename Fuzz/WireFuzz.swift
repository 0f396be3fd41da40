import Foundation

/// libFuzzer entry for the `wire` target: the input is a multipart ZeroMQ message
/// (layout in `FuzzDecodePath.frames(_:)`), decoded as the broker and a node decode it.
/// Built and run by Fuzz/fuzz.sh (`make fuzz`); see Fuzz/README.md.
@_cdecl("LLVMFuzzerTestOneInput")
public func wireFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = size == 0 ? Data() : Data(bytes: data!, count: size)  // !: libFuzzer passes a buffer whenever size > 0
    let outcome = FuzzDecodePath.wire(input)
    // A refusal of an unexpected kind is a finding too: trap so libFuzzer keeps the input.
    precondition(outcome.unexpected.isEmpty, "unexpected: \(outcome.unexpected)")
    return 0
}
