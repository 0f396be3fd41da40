import Foundation

/// One hop of a letter's route, as the broker records it: what happened, when, where
/// (agency/unit or broker), and who signed for it.
public struct TraceEvent: Codable, Sendable, Equatable {
    /// The letter whose tree this event belongs to.
    public var letter: String
    /// The letter or disposition the event is about.
    public var item: String
    /// sent, accepted, disposed, delivered, stored, rejected, read, in-progress, done.
    public var kind: String
    public var at: Timestamp
    public var place: String
    public var signer: String
    public var detail: String?

    public init(letter: String, item: String, kind: String, at: Timestamp, place: String, signer: String, detail: String? = nil) {
        self.letter = letter; self.item = item; self.kind = kind; self.at = at; self.place = place; self.signer = signer; self.detail = detail
    }

    enum CodingKeys: String, CodingKey { case letter, item, kind, at, place, signer, detail }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        letter = try c.decode(String.self, forKey: .letter)
        item = try c.decode(String.self, forKey: .item)
        kind = try c.decode(String.self, forKey: .kind)
        let text = try c.decode(String.self, forKey: .at)
        guard let t = Timestamp(text: text) else {
            throw DecodingError.dataCorruptedError(forKey: .at, in: c, debugDescription: "not an RFC 3339 UTC time")
        }
        at = t
        place = try c.decode(String.self, forKey: .place)
        signer = try c.decode(String.self, forKey: .signer)
        detail = try c.decodeIfPresent(String.self, forKey: .detail)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(letter, forKey: .letter); try c.encode(item, forKey: .item); try c.encode(kind, forKey: .kind)
        try c.encode(at.text, forKey: .at); try c.encode(place, forKey: .place); try c.encode(signer, forKey: .signer)
        try c.encodeIfPresent(detail, forKey: .detail)
    }
}

/// The broker's answer to TRACE: the items of a letter's tree and every recorded event.
public struct TraceReport: Codable, Sendable {
    public struct Item: Codable, Sendable, Equatable {
        public var id: String
        public var kind: String
        public var parent: String?
        public var from: String
        public var to: [String]
        public var subject: String?
        public var instructions: [String]?
        public var note: String?
        public var due: String?
        public var urgency: String?
    }
    public var letter: String
    /// The id the query asked for (highlighted in the tree).
    public var query: String
    public var items: [Item]
    public var events: [TraceEvent]
}
