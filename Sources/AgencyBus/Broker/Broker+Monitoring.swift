import Foundation

// Monitoring adapter (STYLE.md: "monitoring is a pure function plus an adapter"). The owner
// loop calls the one-line hooks below from Broker.swift; `stats()` builds a value with
// `BrokerStats.snapshot` (pure); STATS/WATCH answers and the metrics listener only serialize it.
// Everything here runs on the broker's owner thread.

extension Broker {
    // MARK: - Public

    /// Every live figure of the broker now (counters, sessions, queue, store size, latency).
    public func stats() -> BrokerStatsSnapshot { stats(now: .now()) }

    /// Serves Prometheus text at `http://<server.boundAddress>/metrics` from the server's own
    /// thread; the owner loop re-renders it about once a second and hands it over.
    public func enableMetrics(_ server: MetricsServer) {
        monitor.metrics = server
        server.publish(PrometheusExposition.render(stats()))
        server.start()
        log.info("metrics listening", ["address": server.boundAddress, "path": "/metrics"])
    }

    func stats(now: Timestamp) -> BrokerStatsSnapshot {
        refreshQueueSummary(now: now)
        let live = sessions.values.map {
            BrokerStats.Session(agency: $0.agency, since: $0.since, peer: monitor.connections[$0.routingID]?.peer,
                                inFlight: $0.inFlight.count)
        }
        return monitor.stats.snapshot(now: now, .init(
            broker: config.brokerID, endpoint: endpoint, agencies: topology.agencies.map(\.id), sessions: live,
            queue: monitor.queue, storeBytes: monitor.storeBytes, watching: monitor.streams.count))
    }

    // MARK: - Hooks (one line each in Broker.swift)

    /// A message arrived: count its bytes, remember who is behind the routing id.
    func noteReceived(_ msg: ZMQMessage, routingID: [UInt8]) {
        monitor.stats.received(bytes: msg.frames.reduce(0) { $0 + $1.count })
        guard let userID = msg.userId, let who = PeerIdentity(userID: userID) else { return }
        let now = Timestamp.now()
        if var known = monitor.connections[routingID] {
            known.lastSeen = now.milliseconds
            monitor.connections[routingID] = known
        } else {
            if monitor.connections.count >= 20_000 { pruneConnections(now: now) }
            monitor.connections[routingID] = .init(identity: who, peer: msg.peerAddress, lastSeen: now.milliseconds)
        }
        monitor.streams.heard(routingID, now: now)
    }

    /// Every answer goes through `reply`: count its bytes and, for REFUSED, the refusal (by code,
    /// and by agency when the connection is an agency's).
    func noteReply(_ routingID: [UInt8], _ command: BrokerCommand) {
        monitor.stats.sent(bytes: command.encode().reduce(routingID.count) { $0 + $1.count })
        guard case .refused(let id, let code, let reason) = command else { return }
        let connection = monitor.connections[routingID]
        var event = BrokerEvent(ts: .now(), kind: .refused, id: id, code: code.rawValue, reason: reason, peer: connection?.peer)
        switch connection?.identity {
        case .agency(let agency)?: event.agency = agency
        case .operator(let op)?: event.operator = op
        case nil: break
        }
        note(event)
    }

    /// A DELIVER went out (pump sends it directly, not through `reply`).
    func noteSent(_ frames: [Data]) {
        monitor.stats.sent(bytes: frames.reduce(0) { $0 + $1.count })
    }

    /// Start of a commit: events of an earlier, failed commit are forgotten.
    func beginStagedEvents() { monitor.staged.removeAll(keepingCapacity: true) }

    /// Where the staged events stand before a savepoint...
    func stagedMark() -> Int { monitor.staged.count }

    /// ...and undoing what a rolled-back savepoint staged.
    func rollbackStaged(to mark: Int) {
        if monitor.staged.count > mark { monitor.staged.removeSubrange(mark...) }
    }

    /// After the durable COMMIT: count and stream what the round did.
    func publishStagedEvents() {
        monitor.queueDirty = true
        let events = monitor.staged
        monitor.staged.removeAll(keepingCapacity: true)
        for e in events { note(e) }
    }

    /// A first-time submission was admitted (inside the commit; published after it).
    func stageAccepted(_ s: Submission, now: Timestamp) {
        let envelope = s.envelope
        var e = BrokerEvent(ts: now, kind: .accepted, agency: s.agency, id: envelope.id, messageKind: envelope.kind,
                            from: envelope.common.from,
                            bytes: Int64(envelope.header.count + envelope.attachments.reduce(0) { $0 + $1.count }))
        switch s.payload {
        case .letter(let l):
            e.to = l.recipientAgencies
            e.subject = l.subject
            e.body = l.body
        case .disposition(let d):
            e.to = d.recipientAgencies
            e.note = d.note.isEmpty ? nil : d.note
        case .status(let st):
            e.to = [st.to]
            e.note = st.note
        }
        monitor.staged.append(e)
    }

    /// A receipt closed a delivery (inside the commit; published after it).
    func stageDelivery(_ d: BrokerStore.DeliveryRow, id: String, recipient: String, stored: Bool, reason: String?, now: Timestamp) {
        monitor.staged.append(BrokerEvent(
            ts: now, kind: stored ? .delivered : .rejected, agency: recipient, id: id, messageKind: d.messageKind,
            from: d.messageSender, to: [recipient], bytes: d.messageSize,
            latencyMs: d.messageAcceptedAt > 0 ? now.milliseconds - d.messageAcceptedAt : nil,
            reason: stored ? nil : reason))
    }

    /// Called on every pass of the owner loop: notices sessions that began or ended, and about
    /// once a second expires silent streams, sends STATS to them and re-renders the metrics.
    func monitorTick() {
        let now = Timestamp.now()
        noticeSessionChanges(now: now)
        guard now.milliseconds - monitor.lastTick >= 1000 else { return }
        monitor.lastTick = now.milliseconds
        for gone in monitor.streams.expire(now: now) {
            log.info("operator stream closed: silent", ["operator": gone.operatorID])
        }
        guard !monitor.streams.isEmpty || monitor.metrics != nil else { return }
        let snapshot = stats(now: now)
        if !monitor.streams.isEmpty {
            let frame = BrokerCommand.stats(snapshot.json())
            for w in Array(monitor.streams.watchers.values) { streamSend(w, frame) }
        }
        monitor.metrics?.publish(PrometheusExposition.render(snapshot))
    }

    /// STATS and WATCH (operators only) and an operator's PING. True when the command was
    /// handled here; every other operator command is refused by the caller.
    func serveOperatorCommand(_ command: ClientCommand, who: PeerIdentity, routingID: [UInt8]) -> Bool {
        switch (command, who) {
        case (.stats, .operator):
            reply(routingID, .stats(stats().json()))
        case (.watch, .operator(let op)):
            let now = Timestamp.now()
            let fresh = !monitor.streams.isWatching(routingID)
            monitor.streams.watch(routingID: routingID, operatorID: op, now: now)
            if fresh {
                log.info("operator stream opened", ["operator": op, "peer.address": monitor.connections[routingID]?.peer ?? "?",
                                                    "content": topology.operator(op)?.content == true])
            }
            if let w = monitor.streams.watchers[routingID] { streamSend(w, .stats(stats(now: now).json())) }
        case (.ping, .operator):
            reply(routingID, .pong(monitor.streams.isWatching(routingID) ? .subscribed : .notSubscribed))
        case (.stats, .agency(let agency)), (.watch, .agency(let agency)):
            log.warning("operator command refused", ["agency": agency, "command": command.name])
            reply(routingID, .refused(id: "-", code: .forbidden,
                                      reason: "\(command.name) is for operators (keys under 'operators' in the topology); agency '\(agency)' may not use it"))
        default:
            return false
        }
        return true
    }

    // MARK: - Internals

    /// Counts an event and streams it to the operators (content only to those granted it).
    func note(_ event: BrokerEvent) {
        monitor.stats.record(event)
        guard !monitor.streams.isEmpty else { return }
        var redacted: BrokerCommand?
        var full: BrokerCommand?
        for w in Array(monitor.streams.watchers.values) where monitor.streams.isWatching(w.routingID) {
            let granted = event.hasContent && topology.operator(w.operatorID)?.content == true
            let frame: BrokerCommand
            if granted {
                if full == nil { full = .event(event.json()) }
                frame = full!  // set just above
            } else {
                if redacted == nil { redacted = .event(event.redacted().json()) }
                frame = redacted!  // set just above
            }
            streamSend(w, frame)
        }
    }

    /// Sends without blocking; an operator whose pipe is full is dropped (and counted) rather
    /// than allowed to slow the broker. It notices (no STATS for a while) and WATCHes again.
    func streamSend(_ w: OperatorStreams.Watcher, _ command: BrokerCommand) {
        let frames = [Data(w.routingID)] + command.encode()
        do {
            try router.send(frames, dontWait: true)
            monitor.stats.sent(bytes: frames.reduce(0) { $0 + $1.count })
        } catch let e as ZMQError where e.isWouldBlock {
            monitor.streams.remove(w.routingID)
            log.warning("operator stream dropped: it cannot keep up", ["operator": w.operatorID])
            note(BrokerEvent(ts: .now(), kind: .operatorDropped, reason: "could not keep up", operator: w.operatorID))
        } catch {
            monitor.streams.remove(w.routingID)
            log.info("operator stream closed: the operator's connection is gone (a normal end of tail or watch)", ["operator": w.operatorID, "detail": "\(error)"])
        }
    }

    /// Compares the live sessions with the last pass: `connected` for each new one (or one
    /// taken over by a new connection), `disconnected` for each that ended.
    func noticeSessionChanges(now: Timestamp) {
        let seen = monitor.seenSessions
        guard seen.count != sessions.count || sessions.contains(where: { seen[$0.key]?.routingID != $0.value.routingID }) else {
            for (agency, s) in sessions { monitor.seenSessions[agency] = .init(routingID: s.routingID, lastSeen: s.lastSeen) }
            return
        }
        for (agency, old) in seen where sessions[agency]?.routingID != old.routingID {
            let silent = now.milliseconds - old.lastSeen.milliseconds >= config.sessionTimeoutMilliseconds - 1500
            let reason = sessions[agency] != nil ? "replaced by a new connection"
                : silent ? "silent for \(config.sessionTimeoutMilliseconds / 1000) s" : "connection lost"
            note(BrokerEvent(ts: now, kind: .disconnected, agency: agency, reason: reason,
                             peer: monitor.connections[old.routingID]?.peer))
        }
        for (agency, s) in sessions where seen[agency]?.routingID != s.routingID {
            note(BrokerEvent(ts: s.since, kind: .connected, agency: agency, peer: monitor.connections[s.routingID]?.peer))
        }
        monitor.seenSessions = sessions.mapValues { .init(routingID: $0.routingID, lastSeen: $0.lastSeen) }
    }

    /// Reads the queue summary again when a commit changed it, at most every
    /// max(250 ms, 20 × the last read's cost).
    func refreshQueueSummary(now: Timestamp) {
        let interval = max(250, 20 * monitor.queueCostMs)
        guard monitor.queueDirty, now.milliseconds - monitor.queueReadAt >= interval || monitor.queueReadAt == 0 else { return }
        let started = Timestamp.now()
        do {
            monitor.queue = try store.queueSummary()
            monitor.storeBytes = try store.storeBytes()
            monitor.queueDirty = false
        } catch {
            log.error("cannot read the queue summary", ["error": "\(error)"])
        }
        monitor.queueReadAt = now.milliseconds
        monitor.queueCostMs = Timestamp.now().milliseconds - started.milliseconds
    }

    /// Forgets connections not heard from for 10 minutes that hold no session or stream.
    func pruneConnections(now: Timestamp) {
        let live = Set(sessions.values.map(\.routingID)).union(monitor.streams.watchers.keys)
        monitor.connections = monitor.connections.filter { live.contains($0.key) || now.milliseconds - $0.value.lastSeen < 600_000 }
        if monitor.connections.count >= 20_000 {
            monitor.connections = monitor.connections.filter { live.contains($0.key) }
        }
    }
}
