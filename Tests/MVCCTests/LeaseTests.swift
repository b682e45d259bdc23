import Testing
import Backend
import Foundation
@testable import MVCC

/// The applied side of leases: grant, attach through writes, revoke in one revision, checkpoints, and
/// the same table rebuilt from the backend after a restart.
@Suite struct LeaseTests {
    private func keys(_ h: Harness, _ id: Int64) -> [String] {
        (h.store.lease(id)?.keys ?? []).map { String(decoding: $0, as: UTF8.self) }.sorted()
    }

    @Test func grantTwiceIsRefusedAndRevisionDoesNotMove() throws {
        let h = try Harness()
        #expect(h.apply(.leaseGrant(id: 100, ttl: 5)).outcome == .applied(.leaseGrant(id: 100, ttl: 5)))
        #expect(h.apply(.leaseGrant(id: 100, ttl: 9)).error == .leaseExists)
        #expect(h.store.lease(100)?.ttl == 5 && h.store.currentRevision == 1)
        #expect(h.apply(.leaseRevoke(id: 101)).error == .leaseNotFound)
    }

    @Test func writesAttachAndDetachKeys() throws {
        let h = try Harness()
        h.apply(.leaseGrant(id: 100, ttl: 5))
        h.apply(.leaseGrant(id: 200, ttl: 5))
        h.put("a", "1", lease: 100)
        h.put("b", "1", lease: 100)
        h.put("c", "1", lease: 100)
        #expect(keys(h, 100) == ["a", "b", "c"])
        h.put("a", "2", lease: 200)  // moves to another lease
        h.put("b", "2")               // a plain put detaches
        h.apply(.put(PutRequest(key: b("c"), value: b("3"), ignoreLease: true)))  // keeps its lease
        #expect(keys(h, 100) == ["c"] && keys(h, 200) == ["a"])
        h.delete("c")
        #expect(keys(h, 100) == [])
        // A txn's put attaches too; an unknown lease fails the whole txn.
        let txn = TxnRequest(compare: [], success: [.put(PutRequest(key: b("t"), value: b("v"), lease: 200))], failure: [])
        #expect(h.apply(.txn(txn)).error == nil)
        let bad = TxnRequest(compare: [], success: [.put(PutRequest(key: b("u"), value: b("v"), lease: 999))], failure: [])
        #expect(h.apply(.txn(bad)).error == .leaseNotFound)
        #expect(keys(h, 200) == ["a", "t"])
    }

    @Test func revokeDeletesEveryKeyInOneRevisionInKeyOrder() throws {
        let h = try Harness()
        h.apply(.leaseGrant(id: 100, ttl: 5))
        for k in ["z", "m", "a"] { h.put(k, "v", lease: 100) }
        h.put("other", "v")
        let before = h.store.currentRevision
        let r = h.apply(.leaseRevoke(id: 100))
        #expect(r.outcome == .applied(.leaseRevoke(id: 100)))
        #expect(r.revision == before + 1 && h.store.currentRevision == before + 1)
        #expect(r.events.map { String(decoding: $0.kv.key, as: UTF8.self) } == ["a", "m", "z"])
        #expect(r.events.allSatisfy { $0.kind == .delete && $0.kv.modRevision == before + 1 })
        #expect(h.store.lease(100) == nil)
        #expect(try h.value("other") == "v")
        #expect(try h.value("a") == nil)
        // A lease without keys is revoked without a new revision.
        h.apply(.leaseGrant(id: 300, ttl: 5))
        #expect(h.apply(.leaseRevoke(id: 300)).revision == before + 1)
    }

    @Test func tableAndCheckpointsSurviveARestart() throws {
        let h = try Harness()
        h.apply(.leaseGrant(id: 100, ttl: 30))
        h.apply(.leaseGrant(id: 200, ttl: 60))
        h.put("a", "1", lease: 100)
        h.put("b", "1", lease: 200)
        h.put("b", "2", lease: 100)
        h.put("c", "1", lease: 200)
        h.delete("c")
        h.apply(.leaseCheckpoint([LeaseCheckpoint(id: 100, remainingTTL: 12), LeaseCheckpoint(id: 999, remainingTTL: 1)]))
        try h.reopen()
        #expect(keys(h, 100) == ["a", "b"] && keys(h, 200) == [])
        #expect(h.store.lease(100)?.remainingTTL == 12 && h.store.lease(100)?.ttl == 30)
        #expect(h.store.lease(999) == nil)
        // After the restart, writes keep tracking from the rebuilt table.
        h.put("a", "2")
        #expect(keys(h, 100) == ["b"])
        #expect(h.apply(.leaseRevoke(id: 100)).events.count == 1)
    }
}
