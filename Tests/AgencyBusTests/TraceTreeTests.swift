import Foundation
import Testing
@testable import AgencyBus

// TraceTree is pure: hand-made TraceReports in, trees and text out. Times are fixed
// offsets from one instant, so every latency below is exact.

private let letterID = "01KBGZ0000000000000000SRT1"
private let d1 = "01KBGZ0000000000000000DS01"
private let d2 = "01KBGZ0000000000000000DS02"
private let d3 = "01KBGZ0000000000000000DS03"
/// 2026-12-03T01:00:00.000Z
private let t0: Int64 = 1_796_259_600_000

private func at(_ offsetMs: Int64) -> Timestamp { Timestamp(milliseconds: t0 + offsetMs) }

private func event(_ item: String, _ kind: String, _ offsetMs: Int64, _ place: String, signer: String? = nil,
                   detail: String? = nil) -> TraceEvent {
    TraceEvent(letter: letterID, item: item, kind: kind, at: at(offsetMs), place: place,
               signer: signer ?? (place == "nasional" || kind == "delivered" ? "nasional" : String(place.split(separator: "/")[0])),
               detail: detail)
}

private let letterItem = TraceReport.Item(id: letterID, kind: "letter", parent: nil, from: "kemenpanrb",
                                          to: ["pemkot-semarang/walikota"], subject: "Rapat SPBE", instructions: nil,
                                          note: nil, due: nil, urgency: "segera")

private func dispositionItem(_ id: String, parent: String, from: String, to: [String], instructions: [String],
                             due: String?, note: String? = nil) -> TraceReport.Item {
    TraceReport.Item(id: id, kind: "disposition", parent: parent, from: from, to: to, subject: nil,
                     instructions: instructions, note: note, due: due, urgency: "biasa")
}

/// The letter to Semarang's mayor, read there, disposed to the regional secretary (who is done),
/// and from there to Diskominfo Semarang (not received yet) and Diskominfo Jawa Tengah (stored,
/// not read). Due dates are given per test.
private func smallReport(query: String = letterID, due: String? = "2026-12-10") -> TraceReport {
    TraceReport(
        letter: letterID, query: query,
        items: [
            letterItem,
            dispositionItem(d1, parent: letterID, from: "pemkot-semarang", to: ["pemkot-semarang/setda"],
                            instructions: ["tindak-lanjuti"], due: due, note: "Segera"),
        ],
        events: [
            event(letterID, "sent", 0, "kemenpanrb", detail: "B/1/2026"),
            event(letterID, "accepted", 5, "nasional"),
            event(letterID, "delivered", 1_000, "pemkot-semarang"),
            event(letterID, "stored", 1_010, "pemkot-semarang"),
            event(letterID, "read", 2_000, "pemkot-semarang/walikota"),
            event(d1, "disposed", 3_000, "pemkot-semarang/walikota", detail: "tindak-lanjuti"),
            event(d1, "accepted", 3_004, "nasional"),
            event(d1, "delivered", 3_020, "pemkot-semarang"),
            event(d1, "stored", 3_025, "pemkot-semarang"),
            event(d1, "done", 65_025, "pemkot-semarang/setda", detail: "Selesai"),
        ])
}

/// Three levels across two agencies, with every kind of open state.
private func chainReport(query: String = letterID, due: String = "2026-12-10") -> TraceReport {
    var r = smallReport(query: query, due: due)
    r.items += [
        dispositionItem(d2, parent: d1, from: "pemkot-semarang", to: ["pemkot-semarang/diskominfo", "pemprov-jateng/diskominfo"],
                        instructions: ["koordinasikan", "laporkan"], due: due),
        dispositionItem(d3, parent: d2, from: "pemprov-jateng", to: ["pemprov-jateng/bappeda", "pemprov-jateng/bkd"],
                        instructions: ["pelajari"], due: due),
    ]
    r.events += [
        event(d2, "disposed", 10_000, "pemkot-semarang/setda", detail: "koordinasikan,laporkan"),
        event(d2, "accepted", 10_003, "nasional"),
        // The letter itself reaches the new holder in another agency.
        event(letterID, "delivered", 10_050, "pemprov-jateng"),
        event(letterID, "stored", 10_060, "pemprov-jateng"),
        event(d2, "delivered", 10_070, "pemprov-jateng"),
        event(d2, "stored", 10_080, "pemprov-jateng"),
        event(d2, "read", 11_000, "pemprov-jateng/diskominfo"),
        event(d3, "disposed", 12_000, "pemprov-jateng/diskominfo", detail: "pelajari"),
        event(d3, "accepted", 12_002, "nasional"),
        event(d3, "delivered", 12_010, "pemprov-jateng"),
        event(d3, "stored", 12_012, "pemprov-jateng"),
        event(d3, "in-progress", 13_000, "pemprov-jateng/bkd"),
        event(d2, "in-progress", 14_000, "pemprov-jateng/diskominfo"),
    ]
    return r
}

/// Every node of the tree, depth first.
private func flatten(_ n: TraceNode) -> [TraceNode] { [n] + n.children.flatMap(flatten) }

private func item(_ id: String, in root: TraceNode) -> TraceNode? { flatten(root).first { $0.isItem && $0.id == id } }

private func hops(_ n: TraceNode) -> [String] { n.children.filter { !$0.isItem }.map { "\($0.what)@\($0.who)" } }

@Suite("TraceTree")
struct TraceTreeTests {
    // MARK: - Structure

    @Test func noLetterNoTree() {
        var r = smallReport()
        r.items.removeFirst()
        #expect(TraceTree.build(r, today: "2026-12-03") == nil)
    }

    @Test func dispositionsNestUnderTheirParentsAndHopsUnderTheirItem() throws {
        let root = try #require(TraceTree.build(chainReport(), today: "2026-12-03"))
        #expect(root.what == "letter" && root.id == letterID)
        #expect(root.who == "kemenpanrb" && root.signer == "kemenpanrb")
        #expect(root.at == at(0))
        #expect(root.latencyMs == nil)
        #expect(root.detail == "\"Rapat SPBE\" to pemkot-semarang/walikota")
        // The sent and disposed events are the items themselves, not hops.
        #expect(hops(root) == ["accepted@nasional", "delivered@pemkot-semarang", "stored@pemkot-semarang",
                               "read@pemkot-semarang/walikota", "delivered@pemprov-jateng", "stored@pemprov-jateng"])
        #expect(root.children.filter(\.isItem).map(\.id) == [d1])

        let one = try #require(item(d1, in: root))
        #expect(one.who == "pemkot-semarang/walikota")
        #expect(one.detail == "→ pemkot-semarang/setda [tindak-lanjuti] due 2026-12-10 \"Segera\"")
        #expect(hops(one) == ["accepted@nasional", "delivered@pemkot-semarang", "stored@pemkot-semarang", "done@pemkot-semarang/setda"])
        #expect(one.children.filter(\.isItem).map(\.id) == [d2])

        let two = try #require(item(d2, in: root))
        #expect(two.who == "pemkot-semarang/setda")
        #expect(hops(two) == ["accepted@nasional", "delivered@pemprov-jateng", "stored@pemprov-jateng",
                              "read@pemprov-jateng/diskominfo", "in-progress@pemprov-jateng/diskominfo"])
        #expect(two.children.filter(\.isItem).map(\.id) == [d3])

        let three = try #require(item(d3, in: root))
        #expect(three.children.filter(\.isItem).isEmpty)
        #expect(hops(three) == ["accepted@nasional", "delivered@pemprov-jateng", "stored@pemprov-jateng", "in-progress@pemprov-jateng/bkd"])

        // Children are in time order, the nested disposition among its parent's hops.
        for n in flatten(root) {
            #expect(n.children.map(\.at) == n.children.map(\.at).sorted(), "\(n.id) \(n.what)")
        }
        #expect(root.children.map(\.what) == ["accepted", "delivered", "stored", "read", "disposition", "delivered", "stored"])
        // Hops keep their signer and detail.
        #expect(one.children.first { $0.what == "done" }?.detail == "Selesai")
        #expect(one.children.first { $0.what == "stored" }?.signer == "pemkot-semarang")
        #expect(one.children.first { $0.what == "delivered" }?.signer == "nasional")
    }

    // MARK: - Latencies

    @Test func latenciesFollowTheRules() throws {
        let root = try #require(TraceTree.build(chainReport(), today: "2026-12-03"))
        func latencies(_ n: TraceNode) -> [String: Int64] {
            var out: [String: Int64] = [:]
            for c in n.children { out[c.isItem ? c.id : "\(c.what)@\(c.who)"] = c.latencyMs }
            return out
        }
        // accepted ← the item; the first hop at an agency ← accepted; later hops ← the agency's previous hop.
        #expect(latencies(root) == [
            "accepted@nasional": 5,
            "delivered@pemkot-semarang": 995, "stored@pemkot-semarang": 10, "read@pemkot-semarang/walikota": 990,
            // The letter reaching Jawa Tengah through D2 is timed from the letter's acceptance.
            "delivered@pemprov-jateng": 10_045, "stored@pemprov-jateng": 10,
            // D1 ← the disposer's (Semarang's) last hop on the letter before it: its read.
            d1: 1_000,
        ])
        let one = try #require(item(d1, in: root))
        #expect(latencies(one) == [
            "accepted@nasional": 4, "delivered@pemkot-semarang": 16, "stored@pemkot-semarang": 5,
            "done@pemkot-semarang/setda": 62_000,
            // D2 ← Semarang's last hop on D1 before D2 was disposed (stored at 3 025; 'done' came later).
            d2: 6_975,
        ])
        let two = try #require(item(d2, in: root))
        #expect(latencies(two) == [
            "accepted@nasional": 3, "delivered@pemprov-jateng": 67, "stored@pemprov-jateng": 10,
            "read@pemprov-jateng/diskominfo": 920, "in-progress@pemprov-jateng/diskominfo": 3_000,
            // D3 ← Jawa Tengah's read of D2.
            d3: 1_000,
        ])
        for n in flatten(root).dropFirst() {
            #expect((n.latencyMs ?? -1) >= 0, "\(n.id) \(n.what) \(n.who)")
        }
    }

    @Test func aDisposerWithoutEarlierHopsIsTimedFromTheAcceptance() throws {
        // Semarang disposes its own disposition before the copy to itself was delivered.
        var r = smallReport()
        r.items.append(dispositionItem(d2, parent: d1, from: "pemkot-semarang", to: ["pemkot-semarang/bappeda"],
                                       instructions: ["pelajari"], due: nil))
        r.events.removeAll { $0.item == d1 && ($0.kind == "delivered" || $0.kind == "stored" || $0.kind == "done") }
        r.events += [event(d2, "disposed", 3_500, "pemkot-semarang/setda"), event(d2, "accepted", 3_501, "nasional")]
        let root = try #require(TraceTree.build(r, today: "2026-12-03"))
        #expect(item(d2, in: root)?.latencyMs == 496)  // 3 500 − D1 accepted at 3 004
        #expect(item(d2, in: root)?.detail == "→ pemkot-semarang/bappeda [pelajari]")
    }

    @Test func hopsAtOtherAgenciesDoNotTimeADisposition() throws {
        // Jawa Tengah disposes D2 without having read it; Semarang's read of D2 came just before.
        var r = chainReport()
        r.events.removeAll { $0.item == d2 && $0.kind == "read" }
        r.events.append(event(d2, "read", 11_900, "pemkot-semarang/diskominfo"))
        let root = try #require(TraceTree.build(r, today: "2026-12-03"))
        #expect(item(d3, in: root)?.latencyMs == 1_920)  // 12 000 − Jawa Tengah's 'stored' at 10 080
    }

    // MARK: - Open items and overdue

    @Test func openItemsSayWhatIsMissingPerRecipient() throws {
        let root = try #require(TraceTree.build(chainReport(), today: "2026-12-03"))
        #expect(root.open.isEmpty)  // Semarang read it; Jawa Tengah is not an addressee of the letter
        #expect(item(d1, in: root)?.open == [])  // done
        #expect(item(d2, in: root)?.open == ["pemkot-semarang/diskominfo: not received yet", "pemprov-jateng/diskominfo: in progress"])
        #expect(item(d3, in: root)?.open == ["pemprov-jateng/bappeda: not read", "pemprov-jateng/bkd: in progress"])
        #expect(flatten(root).allSatisfy { !$0.overdue })

        var r = chainReport()
        r.events.removeAll { $0.item == letterID && $0.kind == "read" }
        #expect(TraceTree.build(r, today: "2026-12-03")?.open == ["pemkot-semarang: not read"])
        r.events.removeAll { $0.item == letterID && $0.place == "pemkot-semarang" }
        #expect(TraceTree.build(r, today: "2026-12-03")?.open == ["pemkot-semarang: not received yet"])

        r = chainReport()
        r.events.removeAll { $0.item == d2 && $0.kind == "in-progress" }
        let readOnly = try #require(TraceTree.build(r, today: "2026-12-03"))
        #expect(item(d2, in: readOnly)?.open.last == "pemprov-jateng/diskominfo: read, not done")
    }

    @Test func overdueOnlyAfterTheDueDayAndNeverWhenDone() throws {
        // Due today or later: open, not overdue.
        for today in ["2026-12-03", "2026-12-09", "2026-12-10"] {
            let root = try #require(TraceTree.build(chainReport(due: "2026-12-10"), today: today))
            #expect(flatten(root).allSatisfy { !$0.overdue }, "today \(today)")
            #expect(flatten(root).flatMap(\.open).allSatisfy { !$0.contains("OVERDUE") })
        }
        // The day after: every open part is overdue; a done disposition is not.
        let late = try #require(TraceTree.build(chainReport(due: "2026-12-10"), today: "2026-12-11"))
        #expect(!late.overdue)
        #expect(item(d1, in: late)?.overdue == false)
        #expect(item(d1, in: late)?.open == [])
        #expect(item(d2, in: late)?.overdue == true)
        #expect(item(d2, in: late)?.open == ["pemkot-semarang/diskominfo: not received yet — OVERDUE (due 2026-12-10)",
                                             "pemprov-jateng/diskominfo: in progress — OVERDUE (due 2026-12-10)"])
        #expect(item(d3, in: late)?.overdue == true)
        // Hops are never overdue themselves.
        #expect(flatten(late).filter { !$0.isItem }.allSatisfy { !$0.overdue && $0.open.isEmpty })
    }

    // MARK: - Highlight

    @Test func theQueriedItemIsTheOnlyOneHighlighted() throws {
        for query in [letterID, d1, d2, d3] {
            let root = try #require(TraceTree.build(chainReport(query: query), today: "2026-12-03"))
            let marked = flatten(root).filter(\.highlight)
            #expect(marked.count == 1, "query \(query)")
            #expect(marked.first?.id == query && marked.first?.isItem == true)
        }
        // The same tree whatever the query, apart from the mark.
        let byLetter = try #require(TraceTree.build(chainReport(query: letterID), today: "2026-12-03"))
        let byD3 = try #require(TraceTree.build(chainReport(query: d3), today: "2026-12-03"))
        func unmarked(_ n: TraceNode) -> Data {
            func strip(_ o: [String: Any]) -> [String: Any] {
                var o = o
                o["highlight"] = nil
                o["children"] = (o["children"] as? [[String: Any]] ?? []).map(strip)
                return o
            }
            return Fixtures.json(strip(n.json()))
        }
        #expect(unmarked(byLetter) == unmarked(byD3))
    }

    // MARK: - JSON and text

    @Test func jsonHasTheSameShapeAtEveryLevel() throws {
        let root = try #require(TraceTree.build(smallReport(query: d1), today: "2026-12-03"))
        let json = root.json()
        #expect(Set(json.keys) == ["id", "what", "who", "signer", "at", "open", "overdue", "highlight", "children", "detail"])
        #expect(json["latencyMs"] == nil)
        #expect(json["at"] as? String == "2026-12-03T01:00:00.000Z")
        let children = try #require(json["children"] as? [[String: Any]])
        let accepted = try #require(children.first)
        #expect(accepted["what"] as? String == "accepted")
        #expect(accepted["latencyMs"] as? Int64 == 5)
        #expect(accepted["detail"] == nil)
        let disposition = try #require(children.first { $0["what"] as? String == "disposition" })
        #expect(disposition["highlight"] as? Bool == true)
        #expect(disposition["id"] as? String == d1)
        #expect((disposition["children"] as? [[String: Any]])?.count == 4)
        // Serializable as it is.
        #expect(JSONSerialization.isValidJSONObject(json))
    }

    @Test func renderWithoutColourLineByLine() throws {
        var r = smallReport(query: d1, due: "2026-12-10")
        r.items[1].to.append("pemprov-jateng/diskominfo")
        r.events += [event(d1, "delivered", 3_030, "pemprov-jateng"), event(d1, "stored", 3_031, "pemprov-jateng")]
        let root = try #require(TraceTree.build(r, today: "2026-12-11"))
        let text = TraceTree.render(root, colour: false)
        #expect(text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) == [
            "LETTER 01KBGZ0000000000000000SRT1  kemenpanrb  \"Rapat SPBE\" to pemkot-semarang/walikota  2026-12-03T01:00:00.000Z",
            "├─ accepted    nasional                     2026-12-03T01:00:00.005Z  +5ms",
            "├─ delivered   pemkot-semarang              2026-12-03T01:00:01.000Z  +995ms",
            "├─ stored      pemkot-semarang              2026-12-03T01:00:01.010Z  +10ms",
            "├─ read        pemkot-semarang/walikota     2026-12-03T01:00:02.000Z  +990ms",
            "└─ ▶ DISPOSITION 01KBGZ0000000000000000DS01  pemkot-semarang/walikota  → pemkot-semarang/setda, pemprov-jateng/diskominfo [tindak-lanjuti] due 2026-12-10 \"Segera\"  2026-12-03T01:00:03.000Z  +1.0s",
            "   ├─ accepted    nasional                     2026-12-03T01:00:03.004Z  +4ms",
            "   ├─ delivered   pemkot-semarang              2026-12-03T01:00:03.020Z  +16ms",
            "   ├─ stored      pemkot-semarang              2026-12-03T01:00:03.025Z  +5ms",
            "   ├─ delivered   pemprov-jateng               2026-12-03T01:00:03.030Z  +26ms",
            "   ├─ stored      pemprov-jateng               2026-12-03T01:00:03.031Z  +1ms",
            "   ├─ done        pemkot-semarang/setda        2026-12-03T01:01:05.025Z  +1m2s  \"Selesai\"",
            "   └─ ! pemprov-jateng/diskominfo: not read — OVERDUE (due 2026-12-10)",
        ])
        #expect(!text.contains("\u{1B}"))

        // The same tree on a TTY: the same characters plus ANSI colour around them.
        let coloured = TraceTree.render(root, colour: true)
        #expect(coloured.contains("\u{1B}[1;36m▶ DISPOSITION"))
        #expect(coloured.contains("\u{1B}[1;31m! pemprov-jateng/diskominfo: not read — OVERDUE"))
        let stripped = coloured.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        #expect(stripped == text)
    }

    @Test func renderNestsDeeperLevelsWithBranches() throws {
        let root = try #require(TraceTree.build(chainReport(query: d3), today: "2026-12-03"))
        let lines = TraceTree.render(root, colour: false).split(separator: "\n").map(String.init)
        // One line per node plus one per open part.
        #expect(lines.count == flatten(root).count + flatten(root).map(\.open.count).reduce(0, +))
        #expect(lines.filter { $0.contains("▶") }.count == 1)
        #expect(lines.contains("│  │  ├─ ▶ DISPOSITION 01KBGZ0000000000000000DS03  pemprov-jateng/diskominfo  → pemprov-jateng/bappeda, pemprov-jateng/bkd [pelajari] due 2026-12-10  2026-12-03T01:00:12.000Z  +1.0s"))
        #expect(lines.contains("│  │  │  ├─ ! pemprov-jateng/bappeda: not read"))
        #expect(lines.contains("│  │  │  └─ ! pemprov-jateng/bkd: in progress"))
        #expect(lines.contains("│  │  └─ ! pemprov-jateng/diskominfo: in progress"))
        #expect(lines.last == "└─ stored      pemprov-jateng               2026-12-03T01:00:10.060Z  +10ms")
    }

    @Test func latencyUnits() {
        func rendered(_ ms: Int64) -> String {
            var root = TraceNode(id: letterID, what: "letter", who: "kemenpanrb", signer: "kemenpanrb", at: at(0), latencyMs: nil, detail: "x")
            root.children = [TraceNode(id: letterID, what: "stored", who: "bappenas", signer: "bappenas", at: at(ms), latencyMs: ms, detail: nil)]
            let line = TraceTree.render(root, colour: false).split(separator: "\n").map(String.init)[1]
            return String(line.split(separator: " ").last ?? "")
        }
        #expect(rendered(0) == "+0ms")
        #expect(rendered(999) == "+999ms")
        #expect(rendered(1_000) == "+1.0s")
        #expect(rendered(59_949) == "+59.9s")
        #expect(rendered(60_000) == "+1m0s")
        #expect(rendered(3_599_999) == "+59m59s")
        #expect(rendered(3_600_000) == "+1h0m")
        #expect(rendered(86_399_999) == "+23h59m")
        #expect(rendered(90_000_000) == "+1d1h")
        #expect(rendered(-1_500) == "-1.5s")
    }
}
