import Testing
@testable import Backend
@testable import MVCC

/// The history whose HashKV values below were read from a real etcd 3.4.23
/// (`etcdctl endpoint hashkv --rev N`, compactions with --physical).
private func etcdHistoryUpToFirstCompaction(_ h: Harness) {
    h.put("foo", "bar")  // 2
    h.put("foo", "baz")  // 3
    h.put("a", "1")  // 4
    h.put("b", "2")  // 5
    h.delete("a")  // 6
    h.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("c"), value: b("3"))),
                                      .put(PutRequest(key: b("d"), value: b("4")))])))  // 7
    h.put("foo", "qux")  // 8
}

@Suite struct HashTests {
    @Test func crc32cKnownValues() {
        var h = CRC32CHasher()
        h.update(b("123456789"))
        #expect(h.value == 0xE306_9283)
        #expect(CRC32CHasher().value == 0)
        // Any split of the input gives the same value (the slicing-by-8 and byte paths agree).
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var whole = CRC32CHasher()
        whole.update(data)
        for split in [0, 1, 7, 8, 9, 500, 999] {
            var parts = CRC32CHasher()
            parts.update(Array(data[..<split]))
            parts.update(Array(data[split...]))
            #expect(parts.value == whole.value)
        }
        var key = CRC32CHasher()
        key.update(b("key"))
        #expect(key.value == 1_084_519_789)
    }

    @Test func hashByRevEqualsEtcd() throws {
        let h = try Harness()
        etcdHistoryUpToFirstCompaction(h)
        func hash(_ rev: Int64) throws -> UInt32 { try h.store.hashByRev(rev).hash }
        #expect(try hash(3) == 2_020_292_994)
        #expect(try hash(5) == 32_066_364)
        #expect(try hash(7) == 448_629_236)
        let now = try h.store.hashByRev(0)
        #expect(now.hash == 3_531_170_796 && now.currentRevision == 8 && now.compactRevision == -1)

        h.apply(.compact(CompactionRequest(revision: 5)))
        h.put("e", "")  // 9
        h.delete("b")  // 10
        #expect(try hash(6) == 2_302_904_790)
        #expect(try hash(8) == 4_074_112_675)
        #expect(try hash(9) == 3_977_182_183)
        let after = try h.store.hashByRev(0)
        #expect(after.hash == 1_452_268_474 && after.currentRevision == 10 && after.compactRevision == 5)

        h.delete("\0", "\0")  // 11: foo, c, d, e
        #expect(try hash(0) == 991_123_308)
        // Nothing is live at 11: the compaction keeps nothing and only the bucket name is hashed.
        h.apply(.compact(CompactionRequest(revision: 11)))
        #expect(try hash(0) == 1_084_519_789)
        h.put("z", "1")  // 12
        #expect(try h.store.hashByRev(0) == (3_615_936_642, 12, 11))
        // The same survives a restart (the index is rebuilt from the backend).
        try h.reopen()
        #expect(try h.store.hashByRev(0) == (3_615_936_642, 12, 11))
    }

    @Test func hashByRevCompactedAndFutureErrors() throws {
        let h = try Harness()
        etcdHistoryUpToFirstCompaction(h)
        #expect(throws: EtcdError.futureRevision) { try h.store.hashByRev(9) }
        #expect(try h.store.hashByRev(8).hash == h.store.hashByRev(0).hash)
        h.apply(.compact(CompactionRequest(revision: 5)))
        // etcd's HashByRev rejects rev ≤ compacted (Range only rev < compacted).
        #expect(throws: EtcdError.compacted) { try h.store.hashByRev(5) }
        #expect(throws: EtcdError.compacted) { try h.store.hashByRev(2) }
        #expect(EtcdError.compacted.message == "etcdserver: mvcc: required revision has been compacted")
        #expect(EtcdError.futureRevision.message == "etcdserver: mvcc: required revision is a future revision")
        _ = try h.store.hashByRev(6)
    }

    @Test func hashByRevAgreesBetweenStoresAndDiffersAfterAnotherOp() throws {
        let one = try Harness()
        let two = try Harness()
        // Different Raft indexes and batching: the hash covers only the key bucket.
        two.nextIndex = 100
        for h in [one, two] {
            etcdHistoryUpToFirstCompaction(h)
            h.put("lease-key", "v", lease: 7)
        }
        #expect(try one.store.hashByRev(0).hash == two.store.hashByRev(0).hash)
        for rev in Int64(2)...9 {
            #expect(try one.store.hashByRev(rev).hash == two.store.hashByRev(rev).hash)
        }
        one.put("x", "1")
        two.put("x", "2")
        #expect(try one.store.hashByRev(9).hash == two.store.hashByRev(9).hash)
        #expect(try one.store.hashByRev(0).hash != two.store.hashByRev(0).hash)
        // The whole-backend hash differs too.
        #expect(try one.store.hash().revision == 10)
        #expect(try one.store.hash().hash != two.store.hash().hash)
    }

    @Test func backendHashIgnoresConsistentIndexTermAndAlarms() throws {
        let one = try Harness()
        let two = try Harness()
        two.nextIndex = 40
        for h in [one, two] {
            h.put("a", "1")
            h.apply(.compact(CompactionRequest(revision: 2)))
        }
        _ = two.store.applyBatch([(index: two.nextIndex, op: .noop)], term: 9)
        two.backend.raiseNoSpaceAlarm()
        #expect(try one.store.hash().hash == two.store.hash().hash)
        #expect(try one.store.hash().revision == 2)
        // Without ignores the consistent index is part of the hash.
        #expect(try one.backend.hash() != two.backend.hash())
        // Ignoring a key or a whole bucket only drops records, never the bucket name.
        let dir = tempDir()
        defer { removeDir(dir) }
        let empty = try Backend(config: BackendConfig(directory: dir))
        defer { empty.close() }
        var names = CRC32CHasher()
        for name in ["alarm", "auth", "authRoles", "authUsers", "key", "lease", "members", "meta"] {
            names.update(b(name))
        }
        #expect(try empty.hash() == names.value)
    }
}
