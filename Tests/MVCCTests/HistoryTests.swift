import Testing
import Backend
import Foundation
import Synchronization
@testable import MVCC

/// Deterministic generator so a failing seed can be replayed.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Reads [start, through] in batches of `limit`, checking the batch rules on the way.
private func readAll(_ store: MVCCStore, from start: Int64, through: Int64? = nil, key: [UInt8] = [0],
                     rangeEnd: [UInt8] = [0], prevKV: Bool, limit: Int) throws -> [Event] {
    var next = start
    var all: [Event] = []
    var rounds = 0
    while true {
        let batch = try store.events(from: next, through: through, key: key, rangeEnd: rangeEnd, prevKV: prevKV,
                                     limit: limit)
        #expect(batch.nextRevision >= next)
        let revs = batch.events.map(\.kv.modRevision)
        #expect(revs == revs.sorted())
        // At most `limit` events before the last revision started (a revision is never split).
        if let last = revs.last { #expect(revs.filter { $0 != last }.count < limit) }
        #expect(revs.allSatisfy { $0 >= next && $0 < batch.nextRevision })
        all += batch.events
        if batch.isComplete { return all }
        next = batch.nextRevision
        rounds += 1
        precondition(rounds < 1_000_000, "history read does not advance")
    }
}

private func withoutPrev(_ e: [Event]) -> [Event] {
    e.map { var x = $0; x.prevKV = nil; return x }
}

/// A test-side watch hub following the contract in History.swift: live events are delivered in
/// revision order after apply returns; a watcher gets only revisions ≥ its registration revision.
private final class Hub: Sendable {
    struct Watcher { var minRevision: Int64; var received: [Event] }
    let watchers = Mutex<[Watcher]>([])

    func notify(_ events: [Event]) {
        watchers.withLock { ws in
            for i in ws.indices {
                ws[i].received += events.filter { $0.kv.modRevision >= ws[i].minRevision }
            }
        }
    }

    func register(from revision: Int64) -> Int {
        watchers.withLock { ws in
            ws.append(Watcher(minRevision: revision, received: []))
            return ws.count - 1
        }
    }
}

/// State shared with test threads (a Mutex cannot be captured by an escaping closure itself).
private final class Shared: Sendable {
    let stop = Mutex(false)
    let failures = Mutex([String]())
    let reads = Mutex(0)
    let caughtUp = Mutex<[Event]>([])
    let joined = Mutex<Int?>(nil)
}

@Suite struct HistoryTests {
    /// Random puts, deletes, multi-op txns, lease-revocation deletes, compactions and a restart;
    /// the history read back equals the events apply produced, field for field, prev_kv included.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func historyEqualsAppliedEvents(seed: UInt64) throws {
        var rng = SplitMix64(state: seed)
        let h = try Harness()
        var live: [Event] = []
        let keys = (0..<12).map { b("k\($0 % 10)\($0 >= 10 ? "x" : "")") }
        func key() -> [UInt8] { keys[rng.below(keys.count)] }
        func distinctKeys(_ n: Int) -> [[UInt8]] {
            var picked: [[UInt8]] = []
            while picked.count < n { let k = key(); if !picked.contains(k) { picked.append(k) } }
            return picked
        }
        func check(from start: Int64) throws {
            let limit = 1 + rng.below(7)
            let expected = live.filter { $0.kv.modRevision >= start }
            let withPrev = try readAll(h.store, from: start, prevKV: true, limit: limit)
            #expect(withPrev == expected, "seed \(seed) from \(start) limit \(limit)")
            let plain = try readAll(h.store, from: start, prevKV: false, limit: limit)
            #expect(plain == withoutPrev(expected))
        }
        for step in 0..<400 {
            let op: WriteOp
            switch rng.below(100) {
            case 0..<40:
                op = .put(PutRequest(key: key(), value: Array("v\(step)".utf8), lease: rng.below(4) == 0 ? 7 : 0))
            case 40..<55:
                op = .deleteRange(DeleteRangeRequest(key: key()))
            case 55..<62:
                let from = key()
                op = .deleteRange(DeleteRangeRequest(key: from, rangeEnd: rng.below(2) == 0 ? [0] : prefixRangeEnd(b("k5"))))
            case 62..<85:
                // Several ops on distinct keys in one revision; the compare picks the branch.
                let ks = distinctKeys(2 + rng.below(5))
                let ops: [RequestOp] = ks.map { k in
                    rng.below(3) == 0 ? .deleteRange(DeleteRangeRequest(key: k))
                        : .put(PutRequest(key: k, value: Array("t\(step)".utf8)))
                }
                let cmp = Compare(result: .greater, target: .version, key: key(), version: Int64(rng.below(3)))
                op = .txn(TxnRequest(compare: [cmp], success: ops, failure: Array(ops.reversed())))
            case 85..<92:
                op = .deleteKeys(distinctKeys(1 + rng.below(3)))
            case 92..<97:
                let lo = max(h.store.compactedRevision + 1, 1)
                let cur = h.store.currentRevision
                op = .compact(CompactionRequest(revision: lo + Int64(rng.below(Int(max(1, cur - lo + 1))))))
            default:
                op = .noop
            }
            let r = h.apply(op)
            live += r.events
            if case .compact = op, r.error == nil {
                live.removeAll { $0.kv.modRevision <= h.store.compactedRevision }
            }
            if step == 200 { try h.reopen() }  // the index rebuilt from the backend serves prev_kv too
            if step % 50 == 49 {
                let c = h.store.compactedRevision
                try check(from: max(1, c + 1))
                try check(from: max(1, c + 1) + Int64(rng.below(Int(h.store.currentRevision))))
            }
        }
        #expect(h.store.compactedRevision > 1, "the workload compacted")
        try check(from: 0)  // 0: oldest revision still in history
        // A bounded end revision stops there.
        let cur = h.store.currentRevision
        let mid = cur - 40
        let part = try readAll(h.store, from: 0, through: mid, prevKV: true, limit: 3)
        #expect(part == live.filter { $0.kv.modRevision <= mid })
    }

    @Test func aRevisionIsNeverSplit() throws {
        let h = try Harness()
        h.put("before", "1")  // 2
        let ops: [RequestOp] = (0..<50).map { .put(PutRequest(key: b("k\($0)"), value: b("v"))) }
        h.apply(.txn(TxnRequest(success: ops)))  // 3
        h.put("after", "1")  // 4
        h.delete("k0", "k9")  // 5: deletes the 49 keys k0...k49 but k9 in one revision
        let first = try h.store.events(from: 2, key: [0], rangeEnd: [0], prevKV: false, limit: 10)
        #expect(first.events.count == 51 && first.nextRevision == 4 && !first.isComplete)
        #expect(first.events.dropFirst().map(\.kv.modRevision) == Array(repeating: 3, count: 50))
        #expect(first.events.dropFirst().map { $0.kv.key } == (0..<50).map { b("k\($0)") })
        let second = try h.store.events(from: 4, key: [0], rangeEnd: [0], prevKV: true, limit: 10)
        #expect(second.events.count == 50 && second.nextRevision == 6 && second.isComplete)
        #expect(second.events.dropFirst().allSatisfy { $0.kind == .delete && $0.prevKV?.modRevision == 3 })
        // limit 1: one revision per batch.
        let ones = try h.store.events(from: 3, key: [0], rangeEnd: [0], prevKV: false, limit: 1)
        #expect(ones.events.count == 50 && ones.nextRevision == 4)
    }

    @Test func rangeEndConventions() throws {
        let h = try Harness()
        for k in ["a", "ab", "abc", "b", "c", "\u{7f}"] { h.put(k, "v") }
        h.apply(.put(PutRequest(key: [0xff, 0xff], value: b("v"))))
        h.delete("ab")
        func keysOf(_ key: [UInt8], _ end: [UInt8]) throws -> [String] {
            try h.store.events(from: 1, key: key, rangeEnd: end, prevKV: false, limit: 100).events.map {
                ($0.kind == .delete ? "-" : "") + String(decoding: $0.kv.key, as: UTF8.self)
            }
        }
        #expect(try keysOf(b("ab"), []) == ["ab", "-ab"])  // single key
        #expect(try keysOf(b("a"), prefixRangeEnd(b("a"))) == ["a", "ab", "abc", "-ab"])  // prefix
        #expect(try keysOf(b("ab"), b("c")) == ["ab", "abc", "b", "-ab"])  // [key, end)
        #expect(try keysOf(b("b"), [0]) == ["b", "c", "\u{7f}", "\u{FFFD}\u{FFFD}"])  // ≥ key
        #expect(try keysOf([0], [0]).count == 8)  // every key
        #expect(try keysOf([0xff], prefixRangeEnd([0xff])).count == 1)  // all-0xff prefix → "\0"
        #expect(try keysOf(b("zz"), []).isEmpty)
    }

    @Test func compactedAndFutureStarts() throws {
        let h = try Harness()
        for i in 0..<6 { h.put("k", "\(i)") }  // revisions 2...7
        #expect(h.apply(.compact(CompactionRequest(revision: 5))).error == nil)
        #expect(throws: EtcdError.compacted) {
            try h.store.events(from: 4, key: b("k"), rangeEnd: [], prevKV: false, limit: 10)
        }
        // As etcd's watch: the compacted revision itself may be watched from; its kept put comes
        // back, its prev_kv is compacted away.
        let atCompaction = try h.store.events(from: 5, key: b("k"), rangeEnd: [], prevKV: true, limit: 10)
        #expect(atCompaction.events.map(\.kv.modRevision) == [5, 6, 7] && atCompaction.events[0].prevKV == nil)
        #expect(throws: EtcdError.compacted) {
            try h.store.events(from: 1, key: b("k"), rangeEnd: [], prevKV: false, limit: 10)
        }
        #expect(h.store.compactedRevision == 5)
        // From compacted + 1 prev_kv is the revision the compaction kept.
        let ok = try h.store.events(from: 6, key: b("k"), rangeEnd: [], prevKV: true, limit: 10)
        #expect(ok.events.map(\.kv.modRevision) == [6, 7] && ok.events[0].prevKV?.modRevision == 5)
        #expect(ok.compactedRevision == 5 && ok.currentRevision == 7 && ok.nextRevision == 8)
        #expect(try h.store.events(from: 0, key: b("k"), rangeEnd: [], prevKV: false, limit: 10) == ok.withoutPrev)
        // A start in the future waits: empty and complete, positioned at the start.
        let future = try h.store.events(from: 12, key: b("k"), rangeEnd: [], prevKV: false, limit: 10)
        #expect(future.events.isEmpty && future.nextRevision == 12 && future.isComplete && future.currentRevision == 7)
        let next = try h.store.events(from: 8, key: b("k"), rangeEnd: [], prevKV: false, limit: 10)
        #expect(next.events.isEmpty && next.nextRevision == 8 && next.isComplete)
        // An end before the start is empty too.
        let none = try h.store.events(from: 7, through: 6, key: b("k"), rangeEnd: [], prevKV: false, limit: 10)
        #expect(none.events.isEmpty && none.nextRevision == 7 && none.isComplete)
    }

    /// Readers during apply always see whole revisions: every revision writes exactly 5 keys.
    @Test func concurrentReadersNeverSeePartialRevisions() throws {
        let h = try Harness()
        let store = h.store
        let shared = Shared()
        let group = DispatchGroup()
        for r in 0..<2 {
            group.enter()
            Thread {
                defer { group.leave() }
                var limit = 1 + r * 6
                while !shared.stop.withLock({ $0 }) {
                    do {
                        // Near the head, where a half-published revision would show.
                        let start = max(1, store.currentRevision - 3)
                        let batch = try store.events(from: start, key: [0], rangeEnd: [0], prevKV: r == 1, limit: limit)
                        var perRev: [Int64: Int] = [:]
                        for e in batch.events { perRev[e.kv.modRevision, default: 0] += 1 }
                        let revs = perRev.keys.sorted()
                        if perRev.values.contains(where: { $0 != 5 })
                            || revs != Array(stride(from: max(start, 2), to: batch.nextRevision, by: 1))
                            || batch.nextRevision > batch.currentRevision + 1 {
                            shared.failures.withLock { $0.append("partial or gapped batch: \(perRev)") }
                        }
                        shared.reads.withLock { $0 += 1 }
                    } catch {
                        shared.failures.withLock { $0.append("\(error)") }
                    }
                    limit = limit % 40 + 3
                }
            }.start()
        }
        for i in 0..<400 {
            let ops: [RequestOp] = (0..<5).map { .put(PutRequest(key: b("k\(($0 + i) % 9)"), value: b("\(i)"))) }
            // Several entries per LMDB commit, as the applier batches them.
            _ = store.applyBatch([(h.nextIndex, .txn(TxnRequest(success: ops))),
                                  (h.nextIndex + 1, .noop)])
            h.nextIndex += 2
        }
        shared.stop.withLock { $0 = true }
        group.wait()
        #expect(shared.failures.withLock { $0 }.isEmpty, "\(shared.failures.withLock { $0.prefix(3) })")
        #expect(shared.reads.withLock { $0 } > 0)
        print("history: \(shared.reads.withLock { $0 }) concurrent batches checked")
    }

    /// The join contract end to end: a watcher catches up in small batches while the applier keeps
    /// writing and notifying, then joins the live set; it receives every revision exactly once.
    @Test(arguments: [1, 4, 25])
    func catchUpThenJoinHasNoGapOrDuplicate(limit: Int) throws {
        let h = try Harness()
        for i in 0..<300 { h.put("k\(i % 7)", "\(i)") }
        let store = h.store
        let hub = Hub()
        let shared = Shared()
        let done = DispatchSemaphore(value: 0)
        Thread {
            defer { done.signal() }
            var next: Int64 = 2
            while true {
                do {
                    let batch = try store.events(from: next, key: [0], rangeEnd: [0], prevKV: true, limit: limit) {
                        batch in shared.joined.withLock { $0 = hub.register(from: batch.nextRevision) }
                        shared.reads.withLock { $0 = Int(batch.nextRevision) }
                    }
                    shared.caughtUp.withLock { $0 += batch.events }
                    if batch.isComplete { return }
                    next = batch.nextRevision
                    usleep(20)  // catch up slowly so the join lands among live writes
                } catch {
                    return
                }
            }
        }.start()
        var all = try readAll(store, from: 2, prevKV: true, limit: 1000)
        for i in 0..<600 {
            let r = h.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("k\(i % 7)"), value: b("n\(i)"))),
                                                      .put(PutRequest(key: b("j\(i % 3)"), value: b("n\(i)")))])))
            all += r.events
            // Widen the window between publishing and notifying, where a join must not
            // receive the published revision a second time.
            if i % 2 == 0 { usleep(100) }
            hub.notify(r.events)  // after apply returned: after publishing
        }
        done.wait()
        let index = try #require(shared.joined.withLock { $0 })
        print("history: limit \(limit) joined live at revision \(shared.reads.withLock { $0 }) of \(store.currentRevision)")
        let received = shared.caughtUp.withLock { $0 } + hub.watchers.withLock { $0[index].received }
        #expect(received.count == all.count)
        // Compared by index so a failure names the first gap or duplicate, not two long arrays.
        let firstDifference = received.indices.first { $0 >= all.count || received[$0] != all[$0] }
        #expect(firstDifference == nil, "first difference at event \(firstDifference ?? -1)")
    }

    /// The window the contract covers, made deterministic: the applier has published a revision
    /// but not yet notified it when the watcher joins. The join read includes it; the late notify
    /// must not deliver it again, and the next revision arrives live.
    @Test func joinBetweenPublishAndNotify() throws {
        let h = try Harness()
        let hub = Hub()
        let early = h.put("a", "1")  // revision 2, published, not yet notified
        var watcher = -1
        let batch = try h.store.events(from: 2, key: [0], rangeEnd: [0], prevKV: false, limit: 10) {
            watcher = hub.register(from: $0.nextRevision)
        }
        #expect(batch.isComplete && batch.nextRevision == 3 && batch.events == withoutPrev(early.events))
        hub.notify(early.events)  // late: dropped for this watcher
        let next = h.put("b", "2")
        hub.notify(next.events)
        let live = hub.watchers.withLock { $0[watcher].received }
        #expect(live == next.events)
        // A batch that is not complete does not join.
        var joinedEarly = false
        h.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("c"), value: b("3"))),
                                          .put(PutRequest(key: b("d"), value: b("4")))])))
        h.put("e", "5")
        let partial = try h.store.events(from: 4, key: [0], rangeEnd: [0], prevKV: false, limit: 1) { _ in joinedEarly = true }
        #expect(!partial.isComplete && partial.events.count == 2 && !joinedEarly)
    }

    @Test func withConsistentRevisionHoldsOffPublishing() throws {
        let h = try Harness()
        h.put("a", "1")
        let store = h.store
        let applied = DispatchSemaphore(value: 0)
        let seen = store.withConsistentRevision { rev -> (Int64, Bool) in
            Thread { _ = store.apply(index: 100, .put(PutRequest(key: b("a"), value: b("2")))); applied.signal() }.start()
            // The applier cannot publish while the read lock is held.
            return (rev, applied.wait(timeout: .now() + .milliseconds(300)) == .success)
        }
        #expect(seen.0 == 2 && !seen.1)
        applied.wait()
        #expect(store.currentRevision == 3)
    }

    /// Performance sanity: 100k events read back in batches of 1000 (timings printed).
    @Test func readingALongHistoryIsQuick() throws {
        let h = try Harness()
        let value = [UInt8](repeating: 0x61, count: 64)
        var entries: [(index: UInt64, op: WriteOp)] = []
        for t in 0..<1000 {
            let ops: [RequestOp] = (0..<100).map { .put(PutRequest(key: b("key\(($0 * 7 + t) % 1000)"), value: value)) }
            entries.append((h.nextIndex, .txn(TxnRequest(success: ops))))
            h.nextIndex += 1
            if entries.count == 50 { _ = h.store.applyBatch(entries); entries.removeAll() }
        }
        #expect(h.store.currentRevision == 1001)
        for prevKV in [false, true] {
            let clock = ContinuousClock()
            var count = 0
            var batches = 0
            let elapsed = try clock.measure {
                var next: Int64 = 1
                while true {
                    let batch = try h.store.events(from: next, key: [0], rangeEnd: [0], prevKV: prevKV, limit: 1000)
                    count += batch.events.count
                    batches += 1
                    if batch.isComplete { break }
                    next = batch.nextRevision
                }
            }
            print("history: 100k events, batches of 1000, prevKV \(prevKV): \(batches) batches in \(elapsed)")
            #expect(count == 100_000 && batches == 100)
            #expect(elapsed < .seconds(20))
        }
        // A narrow watcher scans the whole history in budget-bounded batches.
        let clock = ContinuousClock()
        var narrow = 0
        let elapsed = try clock.measure {
            narrow = try readAll(h.store, from: 1, key: b("key7"), rangeEnd: [], prevKV: true, limit: 1000).count
        }
        print("history: one key over 100k records: \(narrow) events in \(elapsed)")
        #expect(narrow == 100)
    }
}

extension HistoryBatch {
    fileprivate var withoutPrev: HistoryBatch {
        var b = self
        b.events = b.events.map { var e = $0; e.prevKV = nil; return e }
        return b
    }
}
