import AgencyBus
import Foundation

let subscribeSpec = CommandSpec(
    tool: "bus-cli", name: "subscribe",
    abstract: "Receive everything pending and then live; store each in the inbox and send receipts.",
    discussion: """
    Prints one line (or, with --json, one JSON object) per message as it arrives, flushed at
    once, also into a pipe or a file. Also sends what waits in the outbox. Runs until
    interrupted (SIGINT/SIGTERM), and reconnects by itself when the broker goes away.
    """,
    options: [nodeOption, jsonOption, verboseOption] + logOptions)

let subscribeVerb = Verb(subscribeSpec) { args in
    let node = try openNode(args, spec: subscribeSpec)
    let json = args.flag("json")
    StopSignal.install()
    var client = try node.connect()
    func start() throws {
        try node.flushOutbox(client)
        try client.send(.subscribe)
    }
    try start()
    let pingEvery = 5.0, silentAfter = 15.0
    var lastHeard = Date(), lastPing = Date(), warned = false, storeFailures = 0
    while !StopSignal.requested {
        var batch: [BrokerCommand] = []
        do {
            if let first = try client.receive(timeoutMs: 200) {
                batch.append(first)
                while batch.count < 256, let next = try client.receive(timeoutMs: 0) { batch.append(next) }
            }
        } catch let e as ProtocolError {
            node.log.warning("unreadable message from broker", ["reason": e.reason])
        }
        if !batch.isEmpty {
            lastHeard = Date()
            if warned { printErr("connected to \(node.brokerDescription) again"); warned = false }
            let events: [AgencyNode.Event]
            do {
                events = try node.handle(batch, client: client)
                storeFailures = 0
            } catch let e as SQLiteError {
                // Nothing was committed, so nothing was receipted: the broker keeps these
                // messages. Wait (backing off), then start a fresh session to get them again.
                storeFailures += 1
                let wait = min(30.0, pow(2.0, Double(min(storeFailures, 5))))
                printErr("warning: the inbox cannot be written (\(e.isStorageFull ? "disk full" : e.message)); nothing was acknowledged and the broker keeps the messages; retrying in \(Int(wait)) s")
                let until = Date().addingTimeInterval(wait)
                while Date() < until && !StopSignal.requested { usleep(100_000) }
                client = try node.connect()
                try start()
                lastHeard = Date()
                continue
            }
            for event in events {
                switch event {
                case .received(_, let letter):
                    let agenda = (try? node.store.agendaNumbers(messageID: letter.id)) ?? []
                    if json { Output.json(letterJSON(letter, status: "stored", agenda: agenda)) }
                    else { Output.line(letterLine(letter, status: "stored", agenda: agenda.first)) }
                case .receipt(let letterID, let recipient, let status, let reason):
                    let subject = (try? node.store.message(id: letterID))?.subject ?? ""
                    if json {
                        var o: [String: Any] = ["id": letterID, "kind": "receipt", "from": recipient, "to": [node.agency],
                                                "subject": subject, "status": status]
                        if let reason { o["reason"] = reason }
                        Output.json(o)
                    } else {
                        Output.line("\(Timestamp.now().text)  \(letterID)  receipt   \(recipient) \(status) it\(reason.map { ": \($0)" } ?? "")  \(subject)")
                    }
                case .accepted(let id, let at):
                    if json { Output.json(["id": id, "kind": "acceptance", "from": "broker", "to": [node.agency], "subject": (try? node.store.message(id: id))?.subject ?? "", "status": "accepted", "acceptedAt": at]) }
                    else { Output.line("\(at)  \(id)  accepted  by the broker (was in the outbox)") }
                case .rejected(let id, let reason):
                    printErr("warning: rejected message \(id): \(reason)")
                case .held(let id, let reason):
                    printErr("warning: message \(id) left at the broker: \(reason)")
                case .refused(let id, let error):
                    printErr("warning: the broker refused \(id): \(error.reason) (\(error.code.rawValue))")
                case .pong(.notSubscribed):
                    try start()  // reconnected under a new connection: resume
                case .pong(.replaced):
                    throw NodeError.unavailable("another 'bus-cli subscribe' for agency '\(node.agency)' took over delivery; only one subscriber per agency receives, so this one stops")
                case .pong(.subscribed):
                    break
                case .disposition(_, let d):
                    let subject = (try? node.store.message(id: d.letter))?.subject ?? ""
                    let today = node.store.calendar.today()
                    if json { Output.json(dispositionJSON(d, subject: subject, status: "stored", today: today)) }
                    else { Output.line(dispositionLine(d, subject: subject, status: "stored", today: today)) }
                case .status(let st):
                    let subject = (try? node.store.message(id: st.letter))?.subject ?? ""
                    if json {
                        var o: [String: Any] = ["id": st.id, "kind": "status", "from": st.from, "to": [st.to], "subject": subject,
                                                "status": st.status, "item": st.item, "letter": st.letter]
                        if let n = st.note { o["note"] = n }
                        Output.json(o)
                    } else {
                        Output.line("\(st.created)  \(st.id)  status    \(st.from) \(st.status) \(st.item)\(st.note.map { " \"\($0)\"" } ?? "")  \(subject)")
                    }
                case .duplicate, .subscribed, .traced:
                    break
                }
            }
        }
        let now = Date()
        if now.timeIntervalSince(lastPing) >= pingEvery {
            try client.send(.ping)
            lastPing = now
        }
        if now.timeIntervalSince(lastHeard) >= silentAfter {
            if !warned { printErr("warning: \(node.brokerDescription) is not answering; retrying (letters wait safely at the broker)"); warned = true }
            client = try node.connect()  // a fresh connection and session
            try start()
            lastHeard = now
        }
    }
    return ExitCode.ok
}
