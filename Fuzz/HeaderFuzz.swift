import Foundation

/// libFuzzer entry for the `header` target: the input is one signed-header frame (JSON),
/// parsed as an envelope, as every message kind, as a trace report, as a topology, and by
/// the text parsers. Built and run by Fuzz/fuzz.sh (`make fuzz`); see Fuzz/README.md.
@_cdecl("LLVMFuzzerTestOneInput")
public func headerFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = size == 0 ? Data() : Data(bytes: data!, count: size)  // !: libFuzzer passes a buffer whenever size > 0
    let outcome = FuzzDecodePath.header(input)
    // A refusal of an unexpected kind is a finding too: trap so libFuzzer keeps the input.
    precondition(outcome.unexpected.isEmpty, "unexpected: \(outcome.unexpected)")
    return 0
}
