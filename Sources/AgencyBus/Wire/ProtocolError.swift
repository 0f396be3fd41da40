/// The refusal codes of wire protocol v1 (docs/protocol.md, "Error codes"). Each refusal
/// travels as `code` + a human sentence naming the field, limit or reason.
public enum RefusalCode: String, Sendable, CaseIterable {
    case malformed              // frames or JSON not as the protocol says
    case unsupportedVersion = "unsupported-version"
    case badSignature = "bad-signature"
    case invalid                // a field breaks its rule or limit
    case forbidden              // signed `from` is not the authenticated agency, or not allowed
    case unknownRecipient = "unknown-recipient"
    case tooLarge = "too-large"
    case conflict               // the id is known with different content
    case futureTimestamp = "future-timestamp"
    case storageFull = "storage-full"
    case storageError = "storage-error"
    case notFound = "not-found"
}

/// A refusal raised while decoding or checking a message.
public struct ProtocolError: Error, CustomStringConvertible, Equatable {
    public let code: RefusalCode
    public let reason: String

    public init(_ code: RefusalCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}
