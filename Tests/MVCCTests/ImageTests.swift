import Testing
import Foundation
import Synchronization
@testable import Backend
@testable import MVCC

/// Everything a client can observe of a store, for comparing two stores.
private struct Observation: Equatable {
    var currentRevision: Int64
    var compactedRevision: Int64
    var consistentIndex: UInt64
    var consistentTerm: UInt64
    var indexedKeys: Int
    /// Every key at every readable revision.
    var history: [Int64: [KeyValue]]
    var hashKV: UInt32
    var hash: UInt32

    init(_ s: MVCCStore) throws {
        currentRevision = s.currentRevision
        compactedRevision = s.compactedRevision
        consistentIndex = s.consistentIndex
        consistentTerm = s.consistentTerm
        indexedKeys = s.indexedKeyCount
        history = [:]
        for rev in max(s.compactedRevision, 1)...s.currentRevision {
            history[rev] = try s.range(RangeRequest(key: [0], rangeEnd: [0], revision: rev)).kvs
        }
        hashKV = try s.hashByRev(0).hash
        hash = try s.hash().hash
    }
}

/// Overwrites, deletes, a txn, a lease, a compaction, an empty value, a batch with a term.
private func fill(_ h: Harness) {
    h.put("foo", "bar")
    h.put("foo", "baz")
    h.put("gone", "soon")
    h.put("leased", "v", lease: 7)
    h.delete("gone")
    h.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("t1"), value: b("1"))),
                                      .put(PutRequest(key: b("t2"), value: []))])))
    h.apply(.compact(CompactionRequest(revision: 4)))
    var batch: [(index: UInt64, op: WriteOp)] = []
    for i in 0..<50 {
        batch.append((h.nextIndex, .put(PutRequest(key: b("k\(i % 20)"), value: b("value \(i)")))))
        h.nextIndex += 1
    }
    _ = h.store.applyBatch(batch, term: 3)
    h.delete("k1", "k3")
}

private func imagePath(_ dir: String) -> String { dir + "/snapshot.img" }

private func fileSize(_ path: String) throws -> Int {
    try (FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
}

/// Counters shared with a reader thread.
private final class ReaderLog: Sendable {
    let stop = Mutex(false)
    let reads = Mutex(0)
    let seen = Mutex(Set<String>())
    let failures = Mutex([String]())
}

@Suite struct ImageTests {
    @Test func imageCopyThenRestoreReproducesTheStore() throws {
        let leader = try Harness()
        fill(leader)
        let dir = tempDir()
        defer { removeDir(dir) }
        let info = try leader.store.writeImage(to: imagePath(dir))
        #expect(try info.bytes > 0 && info.bytes == fileSize(imagePath(dir)))
        #expect(info.consistentIndex == leader.store.consistentIndex && info.consistentTerm == 3)
        #expect(try MVCCStore.imageInfo(at: imagePath(dir)) == info)
        #expect(try leader.backend.writeImage(to: imagePath(dir) + ".2") == info.bytes)

        let follower = try Harness()
        for i in 0..<30 { follower.put("stale\(i)", "x") }
        try follower.store.restore(fromImage: imagePath(dir))
        let expected = try Observation(leader.store)
        #expect(try Observation(follower.store) == expected)
        #expect(expected.consistentIndex == leader.nextIndex - 1 && expected.consistentTerm == 3)
        #expect(expected.compactedRevision == 4)
        #expect(try follower.get("stale0").kvs.isEmpty)

        // Entries the image already covers are skipped; the next ones apply identically.
        #expect(follower.store.apply(index: 2, .put(PutRequest(key: b("x"), value: b("y")))).outcome == .skipped)
        follower.nextIndex = leader.nextIndex
        for h in [leader, follower] {
            h.put("after", "restore")
            h.apply(.compact(CompactionRequest(revision: h.store.currentRevision - 2)))
        }
        #expect(try Observation(follower.store) == Observation(leader.store))
        // The install is durable: a restart finds the same store.
        try follower.reopen()
        #expect(try Observation(follower.store) == Observation(leader.store))
    }

    @Test func imageIsCompact() throws {
        let h = try Harness()
        var batch: [(index: UInt64, op: WriteOp)] = []
        for i in 0..<2000 {
            batch.append((h.nextIndex, .put(PutRequest(key: b("k\(i)"), value: [UInt8](repeating: 7, count: 1024)))))
            h.nextIndex += 1
        }
        _ = h.store.applyBatch(batch)
        h.delete("k", "l")
        h.put("survivor", "1")
        h.apply(.compact(CompactionRequest(revision: h.store.currentRevision)))
        let dir = tempDir()
        defer { removeDir(dir) }
        let size = try h.backend.writeImage(to: imagePath(dir))
        // The live file still spans the freed pages of 2 MB of values; the image leaves them out.
        #expect(try size * 10 < fileSize(h.dir + "/" + Backend.fileName))
        let copy = try Harness()
        try copy.store.restore(fromImage: imagePath(dir))
        #expect(keys(try copy.get("\0", [0])) == ["survivor"])
    }

    @Test func restoreUnderConcurrentReaders() throws {
        // Two stores whose every key carries a tag: a reader must see all keys with one tag and
        // the revision that goes with it, whichever image is installed while it reads.
        let keyCount = 1500
        let dir = tempDir()
        defer { removeDir(dir) }
        var revisionOf: [String: Int64] = [:]
        for (tag, extra) in [("old", 0), ("new", 7)] {
            let h = try Harness()
            for i in 0..<extra { h.put("pad\(i)", "x"); h.delete("pad\(i)") }
            var batch: [(index: UInt64, op: WriteOp)] = []
            for i in 0..<keyCount {
                batch.append((h.nextIndex, .put(PutRequest(key: b(String(format: "key%05d", i)), value: b(tag)))))
                h.nextIndex += 1
            }
            _ = h.store.applyBatch(batch)
            revisionOf[tag] = h.store.currentRevision
            _ = try h.backend.writeImage(to: dir + "/" + tag)
        }
        let live = try Harness()
        try live.store.restore(fromImage: dir + "/old")
        let store = live.store
        let log = ReaderLog()
        let expected = revisionOf
        let oldRevision = revisionOf["old"]!
        // "new" wrote 14 revisions of padding first, then one key per revision.
        let newKeysAtOld = Int(oldRevision - 15)
        let done = DispatchSemaphore(value: 0)
        let reader = Thread {
            defer { done.signal() }
            while !log.stop.withLock({ $0 }) {
                do {
                    let r = try store.range(RangeRequest(key: b("key"), rangeEnd: b("kez")))
                    let tags = Set(r.kvs.map { String(decoding: $0.value, as: UTF8.self) })
                    guard r.kvs.count == keyCount, tags.count == 1, let tag = tags.first,
                          expected[tag] == r.revision else {
                        log.failures.withLock { $0.append("\(r.kvs.count) keys, tags \(tags), rev \(r.revision)") }
                        continue
                    }
                    // A historical read valid in both stores is consistent with one of them:
                    // all 1500 keys tagged "old", or the 1486 "new" keys written by then.
                    let past = try store.range(RangeRequest(key: b("key"), rangeEnd: b("kez"), revision: oldRevision))
                    let pastTags = Set(past.kvs.map { String(decoding: $0.value, as: UTF8.self) })
                    if !(pastTags == ["old"] && past.kvs.count == keyCount && past.revision == oldRevision)
                        && !(pastTags == ["new"] && past.kvs.count == newKeysAtOld && past.revision == expected["new"]) {
                        log.failures.withLock { $0.append("historical read: \(past.kvs.count) keys, tags \(pastTags), rev \(past.revision)") }
                    }
                    log.seen.withLock { _ = $0.insert(tag) }
                } catch {
                    log.failures.withLock { $0.append("\(error)") }
                }
                log.reads.withLock { $0 += 1 }
            }
        }
        reader.start()
        for round in 0..<8 {
            try store.restore(fromImage: dir + "/" + (round % 2 == 0 ? "new" : "old"))
            // Let the reader read the installed state before the next install.
            let target = log.reads.withLock { $0 } + 2
            let deadline = Date().addingTimeInterval(10)
            while log.reads.withLock({ $0 }) < target && Date() < deadline { usleep(1000) }
        }
        log.stop.withLock { $0 = true }
        done.wait()
        #expect(log.failures.withLock { $0 }.isEmpty)
        #expect(log.seen.withLock { $0 } == ["old", "new"])
        #expect(store.currentRevision == revisionOf["old"])
    }

    @Test func restoreBringsTheImageAlarms() throws {
        let full = try Harness()
        full.put("a", "1")
        full.backend.raiseNoSpaceAlarm()
        let clean = try Harness()
        clean.put("b", "1")
        let dir = tempDir()
        defer { removeDir(dir) }
        _ = try full.backend.writeImage(to: dir + "/full")
        _ = try clean.backend.writeImage(to: dir + "/clean")

        let h = try Harness()
        try h.store.restore(fromImage: dir + "/full")
        h.nextIndex = 100  // past the image's consistent index, or the puts below are skipped
        #expect(h.backend.isNoSpaceAlarmRaised && h.put("x", "y").error == .noSpace)
        try h.store.restore(fromImage: dir + "/clean")
        #expect(!h.backend.isNoSpaceAlarmRaised && h.backend.alarms.isEmpty)
        #expect(h.put("x", "y").error == nil)
    }

    @Test func restoreFromAnUnreadableImageChangesNothing() throws {
        let h = try Harness()
        h.put("a", "1")
        let before = try Observation(h.store)
        let dir = tempDir()
        defer { removeDir(dir) }
        let garbage = dir + "/garbage"
        _ = FileManager.default.createFile(atPath: garbage, contents: Data(repeating: 0x5a, count: 64 * 1024))
        #expect(throws: (any Error).self) { try h.store.restore(fromImage: garbage) }
        #expect(throws: (any Error).self) { try h.store.restore(fromImage: dir + "/missing") }
        #expect(try Observation(h.store) == before)
        #expect(h.put("b", "2").error == nil)
    }
}
