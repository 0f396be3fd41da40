/// Every size limit in one place, so refusals can name them and docs/protocol.md can list them.
public enum Limits {
    /// Total attachment bytes per letter.
    public static let maxAttachmentBytes = 32 * 1024 * 1024
    public static let maxAttachments = 64
    /// The signed header (JSON) of any message.
    public static let maxHeaderBytes = 1024 * 1024
    /// A whole ZeroMQ message; libzmq drops the connection of a peer that sends more (ZMQ_MAXMSGSIZE).
    public static let maxWireMessageBytes: Int64 = 40 * 1024 * 1024
    public static let maxRecipients = 1000
    public static let maxSubjectCharacters = 1000
    public static let maxBodyBytes = 512 * 1024
    public static let maxNumberCharacters = 100
    public static let maxFileNameCharacters = 255
    public static let maxMediaTypeCharacters = 127
    /// Free text of a disposition or status update.
    public static let maxNoteBytes = 16 * 1024
    public static let maxReceiptItems = 10_000
    /// How far into the future a message's `created` may lie (clock skew allowance).
    public static let maxClockSkewMilliseconds: Int64 = 5 * 60 * 1000
}
