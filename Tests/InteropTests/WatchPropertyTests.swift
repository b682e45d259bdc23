import Foundation
import Testing

/// Issue #8's property test for the Watch API, against real keel processes: a seeded random mix of puts,
/// single-key/prefix/range deletes, txns (several puts and deletes at one revision, a compare choosing the
/// branch) and compactions, interleaved with watchers created on several streams at random past, current
/// (0) and future revisions, over random keys, prefixes, ranges, from-key and all-keys spans, with random
/// prev_kv and NOPUT/NODELETE filters; some are canceled midway. The test keeps its own model of the
/// history (every successful write is one revision, a txn's events in op order, a delete range's in key
/// order, a write that changes nothing makes no revision) and requires of every watcher: exactly the events
/// of its span and filters from its start revision (from the created response's revision + 1 for 0) through
/// the last write, in order, once, whole revisions per response; prev_kv the key's previous version (absent
/// for creations and after deletes; absent only when compacted away); a start below the compacted revision
/// canceled with compact_revision and nothing else; a canceled watcher a revision-aligned prefix, then its
/// canceled response and nothing after.
///
/// Replay a failure with KEEL_WATCH_PROP_SEED=<seed printed in the failure>.
@Suite(.serialized) struct WatchPropertyTests {
    @Test func randomHistoryOnOneMember() async throws {
        let seed = WatchProperty.seed()
        let scratch = try ScratchDirectory(label: "watch-prop")
        let server = try ServerProcess.start(.keel, dataDir: scratch.child("server"))
        defer { server.kill9() }
        let port = Int(server.ports.client)
        var run = WatchProperty(seed: seed, label: "one member", strict: true)
        try await run.execute(writerPort: port, watchPorts: [port, port, port, port], operations: 300)
        if !run.failures.isEmpty { Issue.record(Comment(rawValue: run.report() + "\n--- server log (tail) ---\n" + String(server.log.suffix(3000)))) }
    }

    /// etcd's guarantee holds on every member: watchers on both followers (and the leader) of a 3-member
    /// cluster, writes through the leader. A follower may apply a compaction after the client saw it done, so
    /// there a start below it may be canceled or served in full.
    @Test func randomHistoryOnFollowersOfACluster() async throws {
        let seed = WatchProperty.seed()
        let cluster = try KeelCluster(size: 3)
        defer { cluster.members.forEach { $0.process?.kill9() } }
        let leader = try cluster.awaitLeader()
        let followers = cluster.members.indices.filter { $0 != leader }
        let ports = (followers + followers + [leader]).map { Int(cluster.members[$0].ports.client) }
        var run = WatchProperty(seed: seed, label: "3 members, leader m\(leader)", strict: false)
        try await run.execute(writerPort: Int(cluster.members[leader].ports.client), watchPorts: ports, operations: 150)
        if !run.failures.isEmpty { Issue.record(Comment(rawValue: run.report())) }
    }
}

/// SplitMix64: a small seeded generator, so a run replays from its seed.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
private func text(_ b: [UInt8]) -> String {
    b == [0] ? "\\0" : String(decoding: b, as: UTF8.self)
}

/// The smallest key after every key with `prefix` (prefixes here never end in 0xff).
private func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
    var end = prefix
    end[end.count - 1] += 1
    return end
}

/// Whether `key` is in the span etcd reads from key/range_end: one key, [key, end), or key and above ("\0").
private func spanContains(key: [UInt8], rangeEnd: [UInt8], _ k: [UInt8]) -> Bool {
    if rangeEnd.isEmpty { return k == key }
    let atLeast = !k.lexicographicallyPrecedes(key)
    if rangeEnd == [0] { return atLeast }
    return atLeast && k.lexicographicallyPrecedes(rangeEnd)
}

private struct WatchProperty {
    static func seed() -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["KEEL_WATCH_PROP_SEED"], let seed = UInt64(text) { return seed }
        return UInt64.random(in: 1...UInt64.max)
    }

    let seed: UInt64
    let label: String
    /// Watchers sit on the member that applied every write and compaction before its client saw it answered.
    let strict: Bool
    var rng: SplitMix64
    var failures: [String] = []

    init(seed: UInt64, label: String, strict: Bool) {
        self.seed = seed
        self.label = label
        self.strict = strict
        self.rng = SplitMix64(state: seed)
    }

    // MARK: Model

    static let keys = ["w/a0", "w/a1", "w/b0", "w/b1", "w/c0", "w/c1", "w/d0", "w/d1", "x/0"].map(bytes)
    static let prefixes = ["w/a", "w/b", "w/c", "w/d", "x/", "w/"].map(bytes)

    /// The live keys.
    var state: [[UInt8]: WatchKV] = [:]
    var revision: Int64 = 1
    /// Every event in revision order; `prevKV` is the key's previous version (nil when it did not exist).
    var history: [WatchEventValue] = []
    /// (step issued, revision).
    var compactions: [(step: Int, revision: Int64)] = []
    var compacted: Int64 { compactions.last?.revision ?? 0 }

    /// Applies `ops` as one revision to the model; returns the events (none: the revision does not move).
    mutating func apply(_ ops: [WatchKVClient.Op]) -> [WatchEventValue] {
        let next = revision + 1
        var events: [WatchEventValue] = []
        for op in ops {
            switch op {
            case .put(let key, let value):
                let prev = state[key]
                let kv = WatchKV(key: key, value: value, createRevision: prev?.createRevision ?? next,
                                 modRevision: next, version: (prev?.version ?? 0) + 1)
                state[key] = kv
                events.append(WatchEventValue(isPut: true, kv: kv, prevKV: prev))
            case .delete(let key, let rangeEnd):
                let doomed = state.keys.filter { spanContains(key: key, rangeEnd: rangeEnd, $0) }
                    .sorted { $0.lexicographicallyPrecedes($1) }
                for k in doomed {
                    events.append(WatchEventValue(isPut: false, kv: WatchKV(key: k, modRevision: next), prevKV: state[k]))
                    state[k] = nil
                }
            }
        }
        if !events.isEmpty {
            revision = next
            history.append(contentsOf: events)
        }
        return events
    }

    // MARK: Random choices

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &rng)] }

    /// Up to `count` ops on distinct keys (a prefix delete's keys excluded from the others), as etcd requires of a txn.
    mutating func txnOps(_ step: Int, _ branch: String, count: Int) -> [WatchKVClient.Op] {
        var ops: [WatchKVClient.Op] = []
        var free = Self.keys.shuffled(using: &rng)
        if chance(0.15) {
            let prefix = pick(Self.prefixes.filter { $0 != bytes("w/") })
            ops.append(.delete(prefix, rangeEnd: prefixEnd(prefix)))
            free.removeAll { $0.starts(with: prefix) }
        }
        for (i, key) in free.prefix(count).enumerated() {
            ops.append(chance(0.7) ? .put(key, bytes("t\(step)\(branch)\(i)")) : .delete(key, rangeEnd: []))
        }
        return ops.shuffled(using: &rng)
    }

    struct Plan {
        let stream: Int
        /// This create's position among the creates of its stream (the server answers them in order).
        let ordinal: Int
        let key: [UInt8]
        let rangeEnd: [UInt8]
        let start: Int64
        let prevKV: Bool
        let noPut: Bool
        let noDelete: Bool
        let step: Int
        let revisionAtCreate: Int64
        let compactedAtCreate: Int64
        var cancelSent = false

        var description: String {
            var s = "stream \(stream) #\(ordinal) key \(text(key))"
            if !rangeEnd.isEmpty { s += " range_end \(text(rangeEnd))" }
            s += " start \(start)"
            if prevKV { s += " prev_kv" }
            if noPut { s += " NOPUT" }
            if noDelete { s += " NODELETE" }
            s += " (sent at step \(step), revision \(revisionAtCreate), compacted \(compactedAtCreate))"
            if cancelSent { s += " cancel sent" }
            return s
        }

        func wants(_ e: WatchEventValue) -> Bool {
            if e.isPut && noPut { return false }
            if !e.isPut && noDelete { return false }
            return spanContains(key: key, rangeEnd: rangeEnd, e.kv.key)
        }
    }

    var plans: [Plan] = []
    var streams: [WatchClientStream] = []
    var createsPerStream: [Int] = []

    mutating func createWatcher(step: Int) {
        let stream = Int.random(in: 0..<streams.count, using: &rng)
        var key: [UInt8], rangeEnd: [UInt8] = []
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<25: key = pick(Self.keys + [bytes("w/zz")])
        case 25..<55:
            key = pick(Self.prefixes)
            rangeEnd = prefixEnd(key)
        case 55..<75:
            let bounds = Self.keys + ["w/", "w/b", "w/c5"].map(bytes)
            var a = pick(bounds), b = pick(bounds)
            while a == b { b = pick(bounds) }
            if b.lexicographicallyPrecedes(a) { swap(&a, &b) }
            key = a
            rangeEnd = b
        case 75..<90:
            key = pick(Self.keys + [bytes("w/b")])
            rangeEnd = [0]
        default:
            key = [0]
            rangeEnd = [0]
        }
        var start: Int64
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<20: start = 0
        case 20..<30: start = revision + Int64.random(in: 1...4, using: &rng)
        case 30..<40 where compacted > 1: start = Int64.random(in: 1..<compacted, using: &rng)
        case 40..<48 where compacted > 0: start = compacted
        default: start = Int64.random(in: max(1, compacted)...revision, using: &rng)
        }
        let filter = Int.random(in: 0..<100, using: &rng)
        let plan = Plan(stream: stream, ordinal: createsPerStream[stream], key: key, rangeEnd: rangeEnd, start: start,
                        prevKV: chance(0.5), noPut: filter < 15 || filter >= 97, noDelete: (15..<30).contains(filter) || filter >= 97,
                        step: step, revisionAtCreate: revision, compactedAtCreate: compacted)
        createsPerStream[stream] += 1
        plans.append(plan)
        streams[stream].create(key: key, rangeEnd: rangeEnd, startRevision: start, prevKV: plan.prevKV,
                               noPut: plan.noPut, noDelete: plan.noDelete)
    }

    /// The created response of `plan` and the watch id the server gave it, once received.
    static func created(_ plan: Plan, in responses: [WatchResponseValue]) -> WatchResponseValue? {
        var seen = 0
        for r in responses where r.created {
            if seen == plan.ordinal { return r }
            seen += 1
        }
        return nil
    }

    mutating func cancelOneWatcher() {
        let candidates = plans.indices.filter { i in
            guard !plans[i].cancelSent else { return false }
            let responses = streams[plans[i].stream].responses
            guard let created = Self.created(plans[i], in: responses) else { return false }
            return !responses.contains { $0.canceled && $0.watchID == created.watchID }
        }
        guard !candidates.isEmpty else { return }
        let i = pick(candidates)
        plans[i].cancelSent = true
        let id = Self.created(plans[i], in: streams[plans[i].stream].responses)!.watchID
        streams[plans[i].stream].cancel(watchID: id)
    }

    // MARK: Run

    mutating func execute(writerPort: Int, watchPorts: [Int], operations: Int) async throws {
        let began = ContinuousClock.now
        let writer = try await WatchKVClient.connect(port: writerPort)
        var connections: [WatchKVClient] = []
        for port in watchPorts {
            let c = try await WatchKVClient.connect(port: port)
            connections.append(c)
            streams.append(try await WatchClientStream.open(c.connection))
            createsPerStream.append(0)
        }
        defer {
            for s in streams { s.close() }
        }
        revision = try await writer.currentRevision()
        guard revision == 1 else { return fail("a fresh cluster is at revision \(revision), not 1") }

        for step in 0..<operations {
            try await randomWrite(writer, step: step)
            if chance(0.18) { createWatcher(step: step) }
            if chance(0.04) { cancelOneWatcher() }
        }
        // Pure history readers, and watchers from now on that must see nothing.
        for _ in 0..<6 { createWatcher(step: operations) }

        let caughtUp = await waitForWatchers(deadline: .now + .seconds(15))
        if !caughtUp { fail("watchers did not reach their expected state within 15 s (details below)") }
        // Barrier: a progress response on each stream comes after everything already queued on it.
        for s in streams {
            let before = s.responses.filter(Self.isProgress).count
            s.requestProgress()
            let answered = await s.wait(until: .now + .seconds(5)) { $0.filter(Self.isProgress).count > before }
            if !answered { fail("a progress request got no answer within 5 s") }
        }
        check()
        print("WatchPropertyTests[\(label)] seed \(seed): \(operations) operations to revision \(revision), "
              + "\(history.count) events, \(plans.count) watchers (\(plans.filter(\.cancelSent).count) canceled), "
              + "\(compactions.count) compactions, \(plans.filter(requiredCancel).count) started below the compacted revision, "
              + "\(compactCanceled()) canceled by compaction, \(ContinuousClock.now - began)")
        for c in connections { await c.close() }
        await writer.close()
    }

    func compactCanceled() -> Int {
        streams.reduce(0) { n, s in n + s.responses.filter { $0.canceled && $0.compactRevision != 0 }.count }
    }

    static func isProgress(_ r: WatchResponseValue) -> Bool {
        r.watchID == -1 && !r.created && !r.canceled && r.events.isEmpty
    }

    mutating func randomWrite(_ writer: WatchKVClient, step: Int) async throws {
        let roll = Int.random(in: 0..<100, using: &rng)
        var answered: Int64
        var what: String
        switch roll {
        case 0..<45:
            let key = pick(Self.keys), value = bytes("v\(step)")
            what = "put \(text(key))"
            answered = try await writer.put(key, value)
            _ = apply([.put(key, value)])
        case 45..<57:
            let key = pick(Self.keys)
            what = "delete \(text(key))"
            answered = try await writer.delete(key, rangeEnd: [])
            _ = apply([.delete(key, rangeEnd: [])])
        case 57..<64:
            var key: [UInt8], end: [UInt8]
            if chance(0.6) {
                key = pick(chance(0.15) ? Self.prefixes : Self.prefixes.filter { $0 != bytes("w/") })
                end = prefixEnd(key)
            } else {
                key = pick(Self.keys)
                end = chance(0.3) ? [0] : pick(Self.keys + [bytes("w/c")])
                if !key.lexicographicallyPrecedes(end) && end != [0] { swap(&key, &end) }
                if key == end { end = prefixEnd(key) }
            }
            what = "delete [\(text(key)), \(text(end)))"
            answered = try await writer.delete(key, rangeEnd: end)
            _ = apply([.delete(key, rangeEnd: end)])
        case 64..<96:
            let success = txnOps(step, "s", count: Int.random(in: 1...4, using: &rng))
            let failure = chance(0.5) ? txnOps(step, "f", count: Int.random(in: 0...3, using: &rng)) : []
            var compare: ([UInt8], Int64)?
            var holds = true
            if chance(0.5) {
                let key = pick(Self.keys)
                holds = chance(0.6)
                compare = (key, (state[key]?.modRevision ?? 0) + (holds ? 0 : 1000))
            }
            what = "txn compare \(holds) success \(success.count) failure \(failure.count)"
            let (rev, succeeded) = try await writer.txn(compareModRevision: compare, success: success, failure: failure)
            answered = rev
            if succeeded != holds { fail("step \(step): \(what) answered succeeded=\(succeeded)") }
            _ = apply(holds ? success : failure)
        default:
            guard revision - compacted >= 4 else { return try await randomWrite(writer, step: step) }
            let target = Int64.random(in: (compacted + 1)...revision, using: &rng)
            what = "compact \(target)"
            answered = try await writer.compact(target)
            compactions.append((step, target))
        }
        if answered != revision {
            fail("step \(step): \(what) answered revision \(answered), the model is at \(revision)")
            revision = answered  // keep going; the watchers' report will show the rest
        }
    }

    // MARK: Checking

    /// The events `plan` must receive in full, given the responses received for it so far. A watch may start
    /// at the compacted revision itself; the compaction kept the puts of that revision but dropped its
    /// deletes (a tombstone left alone in its generation goes, as in etcd), so those may be missing.
    func expected(_ plan: Plan, _ created: WatchResponseValue, received: [WatchResponseValue]) -> [WatchEventValue] {
        let from = plan.start > 0 ? plan.start : created.headerRevision + 1
        let all = history.filter { $0.kv.modRevision >= from && plan.wants($0) }
        guard plan.start > 0, compactions.contains(where: { $0.revision == plan.start }) else { return all }
        let deletesAtStart = received.contains { r in
            !r.created && r.watchID == created.watchID && r.events.contains { !$0.isPut && $0.kv.modRevision == from }
        }
        return deletesAtStart ? all : all.filter { $0.isPut || $0.kv.modRevision != from }
    }

    func requiredCancel(_ plan: Plan) -> Bool {
        strict && plan.start > 0 && plan.start < plan.compactedAtCreate
    }

    /// Every watcher has its created response and either its canceled response (required when we canceled
    /// it or its start was compacted) or at least as many events as it must get.
    func waitForWatchers(deadline: ContinuousClock.Instant) async -> Bool {
        for (s, stream) in streams.enumerated() {
            let mine = plans.filter { $0.stream == s }
            let done = await stream.wait(until: deadline) { responses in
                mine.allSatisfy { plan in
                    guard let created = Self.created(plan, in: responses) else { return false }
                    let mineResponses = responses.filter { $0.watchID == created.watchID && !$0.created }
                    if mineResponses.contains(where: \.canceled) { return true }
                    if plan.cancelSent || requiredCancel(plan) { return false }
                    return mineResponses.reduce(0) { $0 + $1.events.count } >= expected(plan, created, received: mineResponses).count
                }
            }
            if !done { return false }
        }
        return true
    }

    mutating func fail(_ message: String) { failures.append(message) }

    mutating func check() {
        let compactionRevisions = Set(compactions.map(\.revision))
        let maxCompacted = compacted
        for (s, stream) in streams.enumerated() {
            let responses = stream.responses
            if stream.undecodableCount > 0 { fail("stream \(s): \(stream.undecodableCount) responses did not decode") }
            let mine = plans.enumerated().filter { $0.element.stream == s }
            var ids: [Int64: Int] = [:]
            for (i, plan) in mine {
                guard let created = Self.created(plan, in: responses) else {
                    fail("watcher \(i) [\(plan.description)]: no created response")
                    continue
                }
                if ids[created.watchID] != nil { fail("stream \(s): watch id \(created.watchID) given twice") }
                ids[created.watchID] = i
            }
            if responses.filter(\.created).count != mine.count {
                fail("stream \(s): \(responses.filter(\.created).count) created responses for \(mine.count) creates")
            }
            for r in responses where !r.created && r.watchID != -1 && ids[r.watchID] == nil {
                fail("stream \(s): response for unknown watch id: \(r)")
            }
            for (i, plan) in mine {
                guard let created = Self.created(plan, in: responses) else { continue }
                let problems = checkWatcher(plan, created: created,
                                            responses: responses.filter { $0.watchID == created.watchID && !$0.created },
                                            compactionRevisions: compactionRevisions, maxCompacted: maxCompacted)
                if !problems.isEmpty {
                    let got = responses.filter { $0.watchID == created.watchID }.map(\.description)
                    let want = expected(plan, created, received: responses).map(\.description)
                    fail("watcher \(i) [\(plan.description)], watch id \(created.watchID):\n    "
                         + problems.joined(separator: "\n    ")
                         + "\n    expected events: \(want.count > 40 ? Array(want.prefix(40)) + ["…"] : want)"
                         + "\n    responses: \(got.count > 40 ? Array(got.prefix(40)) + ["…"] : got)")
                }
            }
        }
    }

    func checkWatcher(_ plan: Plan, created: WatchResponseValue, responses: [WatchResponseValue],
                      compactionRevisions: Set<Int64>, maxCompacted: Int64) -> [String] {
        var problems: [String] = []
        if created.canceled || !created.events.isEmpty || created.compactRevision != 0 {
            problems.append("created response also cancels or carries events: \(created)")
        }
        if created.headerRevision < 1 { problems.append("created response with header revision \(created.headerRevision)") }
        if strict && created.headerRevision < plan.revisionAtCreate {
            problems.append("created at revision \(created.headerRevision), before the \(plan.revisionAtCreate) already written")
        }
        let expected = expected(plan, created, received: responses)
        let from = plan.start > 0 ? plan.start : created.headerRevision + 1

        // Responses: whole revisions each, in order; nothing after the canceled one.
        var received: [WatchEventValue] = []
        var cancel: WatchResponseValue?
        var lastRevision: Int64 = 0
        for r in responses {
            if cancel != nil {
                problems.append("response after the canceled one: \(r)")
                continue
            }
            if r.canceled {
                cancel = r
                if !r.events.isEmpty { problems.append("canceled response with events: \(r)") }
                continue
            }
            if r.events.isEmpty {
                problems.append("response without events: \(r)")
                continue
            }
            if r.fragment { problems.append("fragment without asking for fragments: \(r)") }
            let revisions = r.events.map(\.kv.modRevision)
            if revisions.first! <= lastRevision {
                problems.append("revision \(revisions.first!) repeated or out of order (after \(lastRevision)) in \(r)")
            }
            if revisions != revisions.sorted() { problems.append("revisions out of order within \(r)") }
            if r.headerRevision < revisions.last! { problems.append("header revision below its events: \(r)") }
            lastRevision = revisions.last!
            received.append(contentsOf: r.events)
        }

        // Events: the expected ones, in order, once.
        for (n, got) in received.enumerated() {
            guard n < expected.count else {
                problems.append("event \(n) beyond the \(expected.count) expected: \(got)")
                break
            }
            let want = expected[n]
            if got.isPut != want.isPut || got.kv != want.kv {
                problems.append("event \(n): got \(got), expected \(want)")
                break
            }
            if !plan.prevKV {
                if got.prevKV != nil { problems.append("event \(n): prev_kv without asking: \(got)") }
            } else if got.prevKV != want.prevKV {
                let compactedAway = want.prevKV != nil && got.prevKV == nil && want.kv.modRevision - 1 < maxCompacted
                if !compactedAway { problems.append("event \(n): prev_kv \(got.prevKV?.description ?? "nil"), expected \(want.prevKV?.description ?? "nil")") }
            }
        }
        let receivedPrefixCount = min(received.count, expected.count)
        let alignedPrefix = receivedPrefixCount == expected.count || receivedPrefixCount == 0
            || expected[receivedPrefixCount].kv.modRevision != expected[receivedPrefixCount - 1].kv.modRevision

        if let cancel {
            if cancel.compactRevision != 0 {
                if !compactionRevisions.contains(cancel.compactRevision) {
                    problems.append("canceled with compact_revision \(cancel.compactRevision), never compacted to")
                }
                if cancel.compactRevision <= from {
                    problems.append("canceled with compact_revision \(cancel.compactRevision), not above its start \(from)")
                }
                if strict && cancel.compactRevision < plan.compactedAtCreate {
                    problems.append("canceled with compact_revision \(cancel.compactRevision) below the \(plan.compactedAtCreate) compacted at creation")
                }
                if let last = received.last, last.kv.modRevision >= cancel.compactRevision {
                    problems.append("events up to \(last.kv.modRevision), then canceled for compaction at \(cancel.compactRevision)")
                }
            } else if !plan.cancelSent {
                problems.append("canceled without a cancel request or a compaction: \(cancel)")
            }
            if !alignedPrefix { problems.append("stopped in the middle of revision \(expected[receivedPrefixCount].kv.modRevision)") }
            if requiredCancel(plan) && !received.isEmpty { problems.append("events although its start \(plan.start) was compacted") }
        } else if requiredCancel(plan) {
            problems.append("start \(plan.start) below the compacted revision \(plan.compactedAtCreate), yet not canceled")
        } else if plan.cancelSent {
            problems.append("cancel request sent, no canceled response")
        } else if received.count < expected.count {
            problems.append("\(received.count) of \(expected.count) events; first missing: \(expected[received.count])")
        }
        return problems
    }

    func report() -> String {
        let shown = failures.prefix(15)
        return "Watch property test [\(label)] failed: replay with KEEL_WATCH_PROP_SEED=\(seed)\n"
            + shown.joined(separator: "\n")
            + (failures.count > shown.count ? "\n… and \(failures.count - shown.count) more" : "")
    }
}
