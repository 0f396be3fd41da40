import Foundation
import Testing
@testable import AgencyBus

// Fault injection with real processes (issue 7): the real `bus-broker`, real `bus-cli subscribe`
// receivers and in-process senders running the library's node code (FaultSender.swift).
//
// Scale: AGENCYBUS_FAULTS=full (`make test-faults`) runs the figures; without it the
// same scenarios run shortened inside `make test`. Every scenario prints one "FAULTS [...]"
// line with what it ran (letters, kills, cuts) and the end-state counts. Kill points come from
// a seeded generator; the seed is printed, and AGENCYBUS_FAULT_SEED=<seed> replays a run.
//
// The end state is always checked twice: by the operators' checker `bus-cli verify-delivery
// --drained` (missing = duplicated = lost = 0) and directly in the SQLite files (no id twice
// in an inbox, every inbox in the broker's acceptance order).

private let senderAgencies = ["kemenpanrb", "bappenas", "anri"]
private let receiverAgencies = ["pemprov-jateng", "pemkot-semarang", "pemkot-bandung"]
/// Used in turn, letter after letter: one, two or three recipient agencies, with units.
private let recipientLists: [[String]] = [
    ["pemprov-jateng"],
    ["pemkot-semarang/diskominfo", "pemkot-bandung"],
    ["pemprov-jateng", "pemkot-semarang", "pemkot-bandung/diskominfo"],
    ["pemkot-bandung"],
    ["pemkot-semarang"],
]

/// Waits for `condition` (polled every 50 ms) or throws after `timeout` seconds.
private func waitFor(_ what: @autoclosure () -> String, timeout: Double, _ condition: () throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try !condition() {
        if Date() >= deadline { throw HarnessError("timed out after \(Int(timeout)) s waiting for \(what())") }
        try await Task.sleep(nanoseconds: 50_000_000)
    }
}

private func sleep(seconds: Double) async throws {
    try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
}

@Suite("Faults (real processes)", .serialized, .timeLimit(.minutes(FaultScale.isFull ? 60 : 10)))
struct FaultTests {
    // MARK: 1. Broker kill -9

    /// The broker is SIGKILLed at random points while three senders submit and three nodes
    /// receive, and restarted on the same port. Right after each kill: everything a sender
    /// holds as accepted is in the broker's store. At the end: every accepted letter is in
    /// every recipient's inbox exactly once, in acceptance order; letters composed while the
    /// broker is down stay queued in their sender's outbox.
    @Test func brokerKilledAtRandomPoints() async throws {
        let letters = FaultScale.pick(full: 5_000, short: 600)
        let kills = FaultScale.pick(full: 20, short: 4)
        let f = try await FaultHarness(scenario: "1 broker kill -9", senders: senderAgencies, receivers: receiverAgencies)
        defer { f.shutdown() }
        for r in receiverAgencies { try f.subscribe(r) }
        try f.makeSenders(recipients: recipientLists)
        for s in f.senders { s.start() }

        for cycle in 0..<kills {
            // This cycle's slice of letters; the kill falls at a random point inside it, once a
            // receiver has stored something since the last restart (so it hits mid-delivery too).
            f.allow(total: letters * (cycle + 1) / kills)
            let slice = letters / kills
            let threshold = letters * cycle / kills + Int(Double(slice) * Double.random(in: 0.2...0.9, using: &f.random))
            let storedBefore = try receiverAgencies.reduce(0) { try $0 + f.inboxCount($1) }
            try await waitFor("cycle \(cycle + 1): \(threshold) accepted (have \(f.acceptedTotal)) and new letters in an inbox",
                              timeout: 180) {
                try f.acceptedTotal >= threshold && receiverAgencies.reduce(0) { try $0 + f.inboxCount($1) } > storedBefore
            }
            try await sleep(seconds: Double.random(in: 0...0.2, using: &f.random))
            _ = try await f.crashBrokerAndAudit()
            try await sleep(seconds: Double.random(in: 0...0.5, using: &f.random))  // down: letters wait in outboxes
            try await f.startBroker()
            for s in f.senders { s.reconnect() }
        }
        f.allow(total: letters)
        try await f.waitUntilAllAccepted(timeout: FaultScale.pick(full: 600, short: 120))
        _ = try await f.waitUntilDrained(timeout: FaultScale.pick(full: 900, short: 120))
        let summary = try await f.finalCheck(expectedDeliveries: f.expectedDeliveries(recipients: recipientLists))
        #expect(summary["accepted"] as? Int == letters)

        // Letters composed while the broker is down are not accepted and stay in the outbox.
        await f.h.crashBroker()
        let extra = 3
        for s in f.senders { s.allow(total: s.budgetTotal + extra) }
        for s in f.senders { try await s.waitUntilComposed(s.budgetTotal, timeout: 30) }
        try await sleep(seconds: 1)
        var unaccepted = 0
        for s in f.senders {
            let ids = Array(s.composed.suffix(extra))
            let outbox = try await f.h.cli(["outbox", "--node", s.directory, "--json"])
            let listed = Set(try outbox.json().compactMap { $0["id"] as? String })
            for id in ids {
                #expect(listed.contains(id), "[1] \(id) composed while the broker was down is not in \(s.agency)'s outbox: \(outbox)")
                #expect(try f.h.nodeStore(s.agency).message(id: id)?.state == "queued")
                unaccepted += 1
            }
        }
        let after = try f.audit(drained: false)
        #expect(after.queued == unaccepted && after.lost == 0, "\(after.problems.prefix(5))")
        for s in f.senders { #expect(s.snapshot.otherRefusals.isEmpty, "\(s.snapshot.otherRefusals.prefix(5))") }
        f.report(["letters": letters, "senders": senderAgencies.count, "receivers": receiverAgencies.count,
                  "broker_kills": kills, "node_kills": 0, "cuts": 0, "unaccepted_kept_in_outbox": unaccepted,
                  "sender_reconnects": f.senders.reduce(0) { $0 + $1.snapshot.reconnects }], summary: summary)
    }

    // MARK: 2. Node kill -9

    /// Receiving nodes (`bus-cli subscribe`) are SIGKILLed at random points while letters
    /// flow, and restarted. Same end state as 1.
    @Test func nodesKilledWhileReceiving() async throws {
        let letters = FaultScale.pick(full: 5_000, short: 600)
        let kills = FaultScale.pick(full: 20, short: 5)
        let f = try await FaultHarness(scenario: "2 node kill -9", senders: senderAgencies, receivers: receiverAgencies)
        defer { f.shutdown() }
        for r in receiverAgencies { try f.subscribe(r) }
        try f.makeSenders(recipients: recipientLists)
        for s in f.senders { s.start() }

        var killed: [String: Int] = [:]
        for cycle in 0..<kills {
            f.allow(total: letters * (cycle + 1) / kills)
            let slice = letters / kills
            let threshold = letters * cycle / kills + Int(Double(slice) * Double.random(in: 0.2...0.9, using: &f.random))
            let victim = receiverAgencies[Int.random(in: 0..<receiverAgencies.count, using: &f.random)]
            let before = try f.inboxCount(victim)
            try await waitFor("cycle \(cycle + 1): \(threshold) accepted (have \(f.acceptedTotal)) and \(victim) storing",
                              timeout: 180) {
                try f.acceptedTotal >= threshold && f.inboxCount(victim) > before
            }
            try await sleep(seconds: Double.random(in: 0...0.2, using: &f.random))
            let child = try #require(f.subscribers[victim])
            await child.crash()
            killed[victim, default: 0] += 1
            let audit = try f.audit(drained: false)
            #expect(audit.problems.isEmpty, "[2] right after kill -9 of \(victim): \(audit.problems.prefix(10))")
            try await sleep(seconds: Double.random(in: 0...1, using: &f.random))
            try f.subscribe(victim)
        }
        f.allow(total: letters)
        try await f.waitUntilAllAccepted(timeout: FaultScale.pick(full: 600, short: 120))
        _ = try await f.waitUntilDrained(timeout: FaultScale.pick(full: 900, short: 120))
        let summary = try await f.finalCheck(expectedDeliveries: f.expectedDeliveries(recipients: recipientLists))
        #expect(summary["accepted"] as? Int == letters)
        #expect(f.brokerPID != nil, "the broker died:\n\(f.h.brokerLog.suffix(4000))")
        for s in f.senders { #expect(s.snapshot.otherRefusals.isEmpty, "\(s.snapshot.otherRefusals.prefix(5))") }
        f.report(["letters": letters, "senders": senderAgencies.count, "receivers": receiverAgencies.count,
                  "broker_kills": 0, "node_kills": kills,
                  "killed": killed.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","),
                  "cuts": 0], summary: summary)
    }
}
