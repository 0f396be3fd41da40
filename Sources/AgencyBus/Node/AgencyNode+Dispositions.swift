import Foundation

extension AgencyNode {
    // MARK: - Receiving dispositions and status updates

    /// Stores a delivered disposition or status update after checking its signature. A
    /// disposition is receipted to its disposer; a status update to the broker only.
    func handleTracked(_ envelope: Envelope, receipts: inout [String: [Receipt.Item]]) throws -> [Event] {
        let hash = envelope.hash.hexString
        let signer = envelope.signerID
        let receiptTo = envelope.kind == "disposition" ? signer : "broker"
        if let duplicate = try self.duplicate(envelope, receiptTo: receiptTo, receipts: &receipts) { return [duplicate] }
        let senderKeys = signingKeys(of: envelope)
        guard !senderKeys.isEmpty else {
            return [hold(envelope, receipts: &receipts)]
        }
        do {
            try envelope.verify(withAnyOf: senderKeys)
            if envelope.kind == "disposition" {
                let d = try envelope.decode(Disposition.self)
                try d.validate()
                let subject = try store.message(id: d.letter)?.subject ?? ""
                try store.insert(envelope, direction: "in", state: "stored", subject: subject,
                                 letterID: d.letter, parentID: d.parent, due: d.due)
                receipts[receiptTo, default: []].append(.init(id: envelope.id, sha256: hash, status: "stored"))
                log.info("disposition stored", ["message.id": d.id, "letter": d.letter, "from": d.from])
                return [.disposition(envelope, d)]
            } else {
                let st = try envelope.decode(StatusUpdate.self)
                try st.validate()
                let subject = try store.message(id: st.letter)?.subject ?? ""
                try store.insert(envelope, direction: "in", state: "stored", subject: subject,
                                 letterID: st.letter, parentID: st.item)
                receipts[receiptTo, default: []].append(.init(id: envelope.id, sha256: hash, status: "stored"))
                return [.status(st)]
            }
        } catch {
            let reason = "\(error)"
            try store.recordRejected(envelope, reason: reason)
            receipts[receiptTo, default: []].append(.init(id: envelope.id, sha256: hash, status: "rejected", reason: reason))
            log.error("\(envelope.kind) rejected", ["message.id": envelope.id, "from": signer, "reason": reason])
            return [.rejected(id: envelope.id, reason: reason)]
        }
    }

    // MARK: - Holding

    /// A letter or disposition this node holds: it was delivered here, or this node sent it to
    /// (among others) its own agency.
    public struct HeldItem {
        public let summary: NodeStore.Summary
        public let letterID: String
        /// The item's sender agency: where status updates go.
        public let sender: String
        /// This agency's addresses among the item's recipients (units, or the agency itself).
        public let myAddresses: [String]
    }

    public enum HoldError: Error { case unknown, notHolder }

    /// Resolves an id to an item this node holds. Throws `.unknown` when the id is not in this
    /// node's store (or is not a letter or disposition), `.notHolder` when it is but was not
    /// addressed to this agency.
    public func heldItem(_ id: String) throws -> HeldItem {
        guard let m = try store.message(id: id), m.kind == "letter" || m.kind == "disposition" else { throw HoldError.unknown }
        let recipients: [String]
        let letterID: String
        if m.kind == "letter" {
            guard let letter = try? JSONDecoder().decode(Letter.self, from: m.header) else { throw HoldError.unknown }
            recipients = letter.to + letter.cc
            letterID = letter.id
        } else {
            guard let d = try? JSONDecoder().decode(Disposition.self, from: m.header) else { throw HoldError.unknown }
            recipients = d.to
            letterID = d.letter
        }
        let mine = recipients.filter { $0 == agency || $0.hasPrefix(agency + "/") }
        guard m.received || !mine.isEmpty else { throw HoldError.notHolder }
        let sender = String(m.sender.split(separator: "/").first ?? "")
        return HeldItem(summary: m, letterID: letterID, sender: sender, myAddresses: mine.isEmpty ? [agency] : mine)
    }

    // MARK: - Composing

    public struct DispositionDraft {
        public var to: [Address]
        public var instructions: [Instruction]
        public var note: String = ""
        public var due: String?
        public var fromUnit: String?
        public var urgency: Urgency = .biasa
        public init(to: [Address], instructions: [Instruction]) { self.to = to; self.instructions = instructions }
    }

    /// Checks, signs and stores a disposition of `itemID` (a letter or a disposition) in the
    /// outbox. NodeError.data for unknown ids and bad fields, NodeError.permission when this
    /// agency does not hold the item.
    public func composeDisposition(of itemID: String, _ draft: DispositionDraft) throws -> Envelope {
        let held: HeldItem
        do { held = try heldItem(itemID) } catch HoldError.unknown {
            throw NodeError.data("unknown id \(itemID): no letter or disposition with that id in \(directory)")
        } catch HoldError.notHolder {
            throw NodeError.permission("agency '\(agency)' does not hold \(itemID) (it sent it but was not a recipient), so it may not dispose it")
        }
        let unit = draft.fromUnit ?? held.myAddresses.first.flatMap { $0.split(separator: "/").dropFirst().first.map(String.init) }
        try refuseIfRevoked()
        let from = Address(agency: agency, unit: unit)
        do {
            try topology.check(from, field: "from-unit")
            for a in draft.to {
                guard a.unit != nil else { throw ValidationError(field: "to", reason: "'\(a)' must name a unit: AGENCY/UNIT") }
                try topology.check(a, field: "to")
            }
        } catch let e as ValidationError { throw NodeError.data(e.description) }
        if let due = draft.due {
            guard CalendarDate.isValid(due) else { throw NodeError.data("due: '\(due)' is not a date YYYY-MM-DD") }
            let today = store.calendar.today()  // the agency's day, not the machine's
            guard due >= today else { throw NodeError.data("due: \(due) is in the past (today is \(today) in \(store.calendar.zoneName))") }
        }
        let now = Timestamp.now()
        let parent = held.summary.kind == "disposition" ? held.summary.id : nil
        let d = Disposition(id: MessageID.generate(at: now), from: from, created: now, letter: held.letterID, parent: parent,
                            to: draft.to, instructions: draft.instructions, note: draft.note, due: draft.due, urgency: draft.urgency)
        do { try d.validate() } catch let e as ValidationError { throw NodeError.data(e.description) }
        let envelope = try Envelope.seal(d, with: key)
        let subject = try store.message(id: held.letterID)?.subject ?? held.summary.subject
        try store.db.inTransaction {
            try store.insert(envelope, direction: "out", state: "queued", subject: subject, recipients: d.recipientAgencies,
                             letterID: d.letter, parentID: d.parent, due: d.due)
        }
        return envelope
    }

    /// Checks, signs and stores a status update on an item this agency holds.
    public func composeStatus(of itemID: String, _ value: StatusUpdate.Value, note: String?, fromUnit: String? = nil) throws -> Envelope {
        let held: HeldItem
        do { held = try heldItem(itemID) } catch HoldError.unknown {
            throw NodeError.data("unknown id \(itemID): no letter or disposition with that id in \(directory)")
        } catch HoldError.notHolder {
            throw NodeError.permission("agency '\(agency)' does not hold \(itemID), so it cannot report a status on it")
        }
        var from = (try? Address(parsing: held.myAddresses[0])) ?? Address(agency: agency)
        if let fromUnit {
            from = Address(agency: agency, unit: fromUnit)
            guard held.myAddresses.contains(from.description) || held.myAddresses.contains(agency) else {
                throw NodeError.permission("\(itemID) is addressed to \(held.myAddresses.joined(separator: ", ")), not to \(from)")
            }
        }
        let now = Timestamp.now()
        let st = StatusUpdate(id: MessageID.generate(at: now), from: from, created: now, item: itemID, letter: held.letterID,
                              to: held.sender, status: value, note: note)
        do { try st.validate() } catch let e as ValidationError { throw NodeError.data(e.description) }
        let envelope = try Envelope.seal(st, with: key)
        try store.db.inTransaction {
            try store.insert(envelope, direction: "out", state: "queued", subject: held.summary.subject, recipients: [held.sender],
                             letterID: held.letterID, parentID: itemID)
            if value == .read { try store.markReadSent(id: itemID, at: now.text) }
        }
        return envelope
    }
}

extension AgencyNode {
    /// Asks the broker for the route of a letter. NodeError.data when the broker does not
    /// know the id or this agency is not involved (the broker answers both the same way).
    public func trace(id: String, timeout: Double) throws -> TraceReport {
        try TraceReport.request(id: id, over: try connect(), timeout: timeout, broker: brokerDescription)
    }
}
