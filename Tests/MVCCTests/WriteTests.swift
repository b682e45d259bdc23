import Testing
import Backend
import Foundation
import Synchronization
@testable import MVCC

@Suite struct WriteTests {
    @Test func putOptions() throws {
        let h = try Harness()
        #expect(h.apply(.put(PutRequest(key: b("a"), ignoreValue: true))).error == .keyNotFound)
        #expect(h.apply(.put(PutRequest(key: b("a"), value: b("x"), lease: 99))).error == .leaseNotFound)
        #expect(h.store.currentRevision == 1)
        h.put("a", "v", lease: 7)
        let r = h.apply(.put(PutRequest(key: b("a"), prevKV: true, ignoreValue: true, ignoreLease: true)))
        guard case .applied(.put(let resp)) = r.outcome else { Issue.record("not applied"); return }
        #expect(resp.prevKV?.value == b("v"))
        let kv = try #require(try h.get("a").kvs.first)
        #expect(kv.value == b("v") && kv.lease == 7 && kv.version == 2)
        #expect(r.events.count == 1 && r.events[0].kind == .put && r.events[0].prevKV?.version == 1)
    }

    @Test func deleteSemantics() throws {
        let h = try Harness()
        h.put("a", "1"); h.put("b", "2"); h.put("c", "3")
        let none = h.delete("x")
        #expect(none.revision == 4 && h.store.currentRevision == 4)
        guard case .applied(.deleteRange(let d0)) = none.outcome else { Issue.record("x"); return }
        #expect(d0.deleted == 0 && none.events.isEmpty)
        let r = h.delete("a", "c", prevKV: true)
        guard case .applied(.deleteRange(let d)) = r.outcome else { Issue.record("x"); return }
        #expect(d.deleted == 2 && d.prevKVs.map(\.value) == [b("1"), b("2")])
        #expect(r.revision == 5 && r.events.map(\.kind) == [.delete, .delete])
        #expect(r.events[0].kv == KeyValue(key: b("a"), modRevision: 5))
        #expect(keys(try h.get("\0", [0])) == ["c"])
        #expect(h.apply(.deleteKeys([b("c"), b("zz")])).outcome == .applied(.deleteKeys(deleted: 1)))
        #expect(h.store.currentRevision == 6)
    }

    @Test func txnCompareTargets() throws {
        let h = try Harness()
        h.put("k", "v", lease: 7)  // rev 2, version 1
        func run(_ c: Compare) -> Bool {
            let r = h.apply(.txn(TxnRequest(compare: [c])))
            guard case .applied(.txn(let t)) = r.outcome else { return false }
            return t.succeeded
        }
        let cases: [(Compare.Target, Compare)] = [
            (.version, Compare(result: .equal, target: .version, key: b("k"), version: 1)),
            (.create, Compare(result: .equal, target: .create, key: b("k"), createRevision: 2)),
            (.mod, Compare(result: .equal, target: .mod, key: b("k"), modRevision: 2)),
            (.value, Compare(result: .equal, target: .value, key: b("k"), value: b("v"))),
            (.lease, Compare(result: .equal, target: .lease, key: b("k"), lease: 7)),
        ]
        for (_, c) in cases {
            #expect(run(c))
            var ne = c; ne.result = .notEqual; #expect(!run(ne))
            var gt = c; gt.result = .greater; #expect(!run(gt))
            var lt = c; lt.result = .less; #expect(!run(lt))
        }
        #expect(run(Compare(result: .greater, target: .value, key: b("k"), value: b("a"))))
        #expect(run(Compare(result: .less, target: .version, key: b("k"), version: 5)))
        #expect(run(Compare(result: .greater, target: .mod, key: b("k"), modRevision: 1)))
        // Missing key: value compares fail, the others compare against zero.
        #expect(!run(Compare(result: .equal, target: .value, key: b("missing"), value: b(""))))
        #expect(!run(Compare(result: .notEqual, target: .value, key: b("missing"), value: b("x"))))
        #expect(run(Compare(result: .equal, target: .version, key: b("missing"), version: 0)))
        #expect(run(Compare(result: .equal, target: .create, key: b("missing"))))
        #expect(run(Compare(result: .equal, target: .lease, key: b("missing"))))
        // Ranges: every key must satisfy.
        h.put("k2", "w")
        #expect(run(Compare(result: .greater, target: .version, key: b("k"), rangeEnd: b("l"), version: 0)))
        #expect(!run(Compare(result: .equal, target: .value, key: b("k"), rangeEnd: b("l"), value: b("v"))))
        #expect(run(Compare(result: .notEqual, target: .value, key: b("k"), rangeEnd: b("l"), value: b("z"))))
        // Read-only txns never bump the revision.
        #expect(h.store.currentRevision == 3)
    }

    @Test func txnBranchesShareOneRevision() throws {
        let h = try Harness()
        h.put("x", "1")  // 2
        let t = TxnRequest(
            compare: [Compare(result: .equal, target: .value, key: b("x"), value: b("1"))],
            success: [.put(PutRequest(key: b("a"), value: b("A"))),
                      .range(RangeRequest(key: b("a"))),
                      .deleteRange(DeleteRangeRequest(key: b("x"))),
                      .txn(TxnRequest(compare: [Compare(result: .equal, target: .version, key: b("a"), version: 5)],
                                      success: [.put(PutRequest(key: b("b"), value: b("no")))],
                                      failure: [.put(PutRequest(key: b("c"), value: b("C")))]))],
            failure: [.put(PutRequest(key: b("f"), value: b("F")))])
        let r = h.apply(.txn(t))
        guard case .applied(.txn(let resp)) = r.outcome else { Issue.record("not applied"); return }
        #expect(resp.succeeded && resp.responses.count == 4)
        #expect(r.revision == 3 && h.store.currentRevision == 3)
        // The range inside the txn sees the txn's own put.
        if case .range(let rr) = resp.responses[1] { #expect(keys(rr) == ["a"] && rr.revision == 3) } else { Issue.record("range") }
        if case .txn(let nested) = resp.responses[3] { #expect(!nested.succeeded) } else { Issue.record("nested") }
        #expect(r.events.map(\.kv.modRevision) == [3, 3, 3])
        #expect(keys(try h.get("\0", [0])) == ["a", "c"])
        let c = try #require(try h.get("c").kvs.first)
        #expect(c.createRevision == 3 && c.modRevision == 3)
        // A txn whose chosen branch fails its checks changes nothing.
        let bad = h.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("q"), value: b("1"))),
                                                   .put(PutRequest(key: b("nope"), ignoreValue: true))])))
        #expect(bad.error == .keyNotFound && h.store.currentRevision == 3)
        let future = h.apply(.txn(TxnRequest(success: [.range(RangeRequest(key: b("a"), revision: 99))])))
        #expect(future.error == .futureRevision)
    }

    @Test func validation() throws {
        #expect(throws: EtcdError.emptyKey) { try RequestValidation.check(RangeRequest(key: [])) }
        #expect(throws: EtcdError.emptyKey) { try RequestValidation.check(PutRequest(key: [])) }
        #expect(throws: EtcdError.valueProvided) { try RequestValidation.check(PutRequest(key: b("a"), value: b("v"), ignoreValue: true)) }
        #expect(throws: EtcdError.leaseProvided) { try RequestValidation.check(PutRequest(key: b("a"), lease: 1, ignoreLease: true)) }
        #expect(throws: EtcdError.emptyKey) { try RequestValidation.check(DeleteRangeRequest(key: [])) }
        let p = { (k: String) in RequestOp.put(PutRequest(key: b(k))) }
        #expect(throws: EtcdError.tooManyOps) {
            try RequestValidation.check(TxnRequest(success: (0..<129).map { p("k\($0)") }))
        }
        try RequestValidation.check(TxnRequest(success: (0..<128).map { p("k\($0)") }))
        #expect(throws: EtcdError.tooManyOps) {
            try RequestValidation.check(TxnRequest(success: [p("a"), .txn(TxnRequest(success: [p("b"), p("c")]))]), maxTxnOps: 3)
        }
        #expect(throws: EtcdError.emptyKey) {
            try RequestValidation.check(TxnRequest(compare: [Compare(result: .equal, target: .version, key: [])]))
        }
        #expect(throws: EtcdError.keyNotFound) { try RequestValidation.check(TxnRequest(success: [.none])) }
        #expect(throws: EtcdError.duplicateKey) { try RequestValidation.check(TxnRequest(success: [p("a"), p("a")])) }
        // Same key in success and failure is fine (only one branch runs).
        try RequestValidation.check(TxnRequest(success: [p("a")], failure: [p("a")]))
        let del = { (k: String, e: String) in RequestOp.deleteRange(DeleteRangeRequest(key: b(k), rangeEnd: b(e))) }
        #expect(throws: EtcdError.duplicateKey) { try RequestValidation.check(TxnRequest(success: [del("a", "c"), p("b")])) }
        #expect(throws: EtcdError.duplicateKey) { try RequestValidation.check(TxnRequest(success: [del("a", "\0"), p("zzz")])) }
        try RequestValidation.check(TxnRequest(success: [del("a", "b"), p("b")]))
        // Nested: a key put in both branches of one nested txn is allowed, but not next to it.
        let nested = RequestOp.txn(TxnRequest(success: [p("x")], failure: [p("x")]))
        try RequestValidation.check(TxnRequest(success: [nested]))
        #expect(throws: EtcdError.duplicateKey) { try RequestValidation.check(TxnRequest(success: [nested, p("x")])) }
        #expect(throws: EtcdError.duplicateKey) {
            try RequestValidation.check(TxnRequest(success: [.txn(TxnRequest(success: [del("w", "y")])), p("x")]))
        }
        #expect(EtcdError.noSpace.code == 8 && EtcdError.compacted.code == 11 && EtcdError.leaseNotFound.code == 5)
    }

    @Test func compaction() throws {
        let h = try Harness()
        h.put("a", "1")  // 2
        h.put("a", "2")  // 3
        h.put("b", "1")  // 4
        h.delete("b")    // 5
        h.put("a", "3")  // 6
        #expect(h.apply(.compact(CompactionRequest(revision: 7))).error == .futureRevision)
        #expect(h.apply(.compact(CompactionRequest(revision: 5))).outcome == .applied(.compact))
        #expect(h.store.compactedRevision == 5)
        #expect(h.apply(.compact(CompactionRequest(revision: 5))).error == .compacted)
        #expect(throws: EtcdError.compacted) { try h.get("a", rev: 4) }
        #expect(try h.value("a", rev: 5) == "2")
        #expect(try h.get("b", rev: 5).kvs.isEmpty)
        #expect(try h.value("a") == "3")
        // b's history is gone from the index; only a's kept revision (3) and rev 6 remain.
        #expect(h.store.indexedKeyCount == 1)
        let stored = try h.backend.read { tx -> Int in
            var n = 0
            try tx.scan(.key, from: []) { _, _ in n += 1; return true }
            return n
        }
        #expect(stored == 2)
        try h.reopen()
        #expect(h.store.compactedRevision == 5 && h.store.currentRevision == 6)
        #expect(throws: EtcdError.compacted) { try h.get("a", rev: 4) }
        #expect(try h.value("a", rev: 5) == "2")
        h.put("a", "4")
        #expect(try h.get("a").kvs.first?.version == 4)
    }

    @Test func restartRestoresStateAndSkipsReplayedEntries() throws {
        let h = try Harness()
        h.put("a", "1"); h.put("b", "2"); h.delete("a"); h.put("a", "3")
        h.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("c"), value: b("C"))), .put(PutRequest(key: b("d"), value: b("D")))])))
        let before = try h.get("\0", [0])
        let ci = h.store.consistentIndex
        try h.reopen()
        #expect(try h.get("\0", [0]) == before)
        #expect(h.store.currentRevision == 6 && h.store.consistentIndex == ci)
        #expect(try h.value("a", rev: 3) == "1")
        // Replaying already-applied entries is a no-op.
        let replay = h.store.applyBatch([(ci - 1, .put(PutRequest(key: b("z"), value: b("z")))),
                                         (ci, .put(PutRequest(key: b("z"), value: b("z")))),
                                         (ci + 1, .put(PutRequest(key: b("y"), value: b("y"))))])
        #expect(replay.map(\.outcome.isSkipped) == [true, true, false])
        #expect(try h.get("z").kvs.isEmpty && h.store.currentRevision == 7 && h.store.consistentIndex == ci + 1)
    }

    @Test func noSpaceAlarmThenDeletesStillWork() throws {
        let h = try Harness(quota: 256 * 1024)
        var i = 0
        // What the server does at proposal time: admit puts until the quota is reached, then raise the alarm.
        while i < 100 {
            let put = PutRequest(key: b("k\(i)"), value: [UInt8](repeating: 1, count: 8 * 1024))
            if h.store.exceedsQuota(cost: put.putCost) { break }
            #expect(h.apply(.put(put)).error == nil)
            i += 1
        }
        h.backend.raiseNoSpaceAlarm()
        #expect(h.backend.isNoSpaceAlarmRaised)
        #expect(h.put("small", "x").error == .noSpace)
        #expect(h.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("t"), value: b("x")))]))).error == .noSpace)
        #expect(try h.get("k0").kvs.count == 1)
        let d = h.delete("k", "l")
        #expect(d.error == nil && d.events.count == i)
        #expect(h.apply(.txn(TxnRequest(success: [.deleteRange(DeleteRangeRequest(key: b("zz")))]))).error == nil)
        h.backend.clearNoSpaceAlarm()
    }

    @Test func mapFullIsHandledWithoutCrashing() throws {
        let h = try Harness(quota: 1 << 40, mapSize: 1 << 20)
        h.put("a", "1")
        let big = h.apply(.put(PutRequest(key: b("big"), value: [UInt8](repeating: 2, count: 2 << 20))))
        #expect(big.error == .noSpace && h.backend.isNoSpaceAlarmRaised)
        #expect(try h.value("a") == "1" && h.store.currentRevision == 2)
        h.backend.clearNoSpaceAlarm()
        #expect(h.put("b", "2").error == nil && h.store.currentRevision == 3)
        #expect(try h.get("big").kvs.isEmpty)
    }

    @Test func concurrentReadersSeeConsistentRevisions() async throws {
        let h = try Harness()
        let store = h.store
        let firstIndex = h.nextIndex
        // Every write sets keys p and q to the same value in one txn; readers must never see
        // them differ at a single revision.
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var ok = true
                    for _ in 0..<300 {
                        guard let r = try? store.range(RangeRequest(key: b("p"), rangeEnd: b("r"))) else { return false }
                        if r.kvs.count == 2 && r.kvs[0].value != r.kvs[1].value { ok = false }
                        if r.kvs.count == 1 { ok = false }
                    }
                    return ok
                }
            }
            group.addTask {
                for i in 0..<300 {
                    let v = b("\(i)")
                    _ = store.apply(index: firstIndex + UInt64(i), .txn(TxnRequest(success: [.put(PutRequest(key: b("p"), value: v)),
                                                          .put(PutRequest(key: b("q"), value: v))])))
                }
                return true
            }
            for await ok in group { #expect(ok) }
        }
        #expect(h.store.currentRevision == 301)
    }

    @Test func autoCompactor() {
        var rev = AutoCompactor(mode: .revision(retain: 10))
        #expect(rev.tick(now: 0, currentRevision: 5) == nil)
        #expect(rev.tick(now: 100, currentRevision: 50) == nil)  // within the 5-minute interval
        #expect(rev.tick(now: 300, currentRevision: 50) == 40)
        #expect(rev.tick(now: 600, currentRevision: 50) == nil)  // same target again
        var p = AutoCompactor(mode: .periodic(retention: 100))
        #expect(p.interval == 10)
        #expect(p.tick(now: 0, currentRevision: 10) == nil)
        #expect(p.tick(now: 50, currentRevision: 20) == nil)
        #expect(p.tick(now: 100, currentRevision: 30) == 10)
        #expect(p.tick(now: 105, currentRevision: 31) == nil)
        #expect(p.tick(now: 150, currentRevision: 40) == 20)
    }
}

extension ApplyResult.Outcome {
    var isSkipped: Bool { if case .skipped = self { return true } else { return false } }
}

/// Under Raft a backend failure while applying a committed entry must stop the member (other members
/// may apply the same entry fine); the store reports it through its handler.
@Suite struct BackendFailureHandlerTests {
    @Test func mapFullCallsTheHandler() throws {
        let seen = Mutex<[String]>([])
        let h = try Harness(quota: 1 << 40, mapSize: 1 << 20) { error in seen.withLock { $0.append("\(error)") } }
        h.put("a", "1")
        #expect(seen.withLock { $0 }.isEmpty, "a request that applies calls nothing")
        _ = h.apply(.put(PutRequest(key: b("big"), value: [UInt8](repeating: 2, count: 2 << 20))))
        #expect(seen.withLock { $0 }.count == 1, "\(seen.withLock { $0 })")
    }
}
