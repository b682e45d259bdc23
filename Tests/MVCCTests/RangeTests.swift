import Testing
import Backend
@testable import MVCC

@Suite struct RangeTests {
    @Test func emptyStoreStartsAtRevisionOne() throws {
        let h = try Harness()
        #expect(h.store.currentRevision == 1)
        let r = try h.get("a")
        #expect(r.kvs.isEmpty && r.count == 0 && r.revision == 1)
        #expect(h.put("a", "1").revision == 2)
    }

    @Test func putFieldsAndVersions() throws {
        let h = try Harness()
        h.put("foo", "bar")
        h.put("foo", "baz")
        let kv = try #require(try h.get("foo").kvs.first)
        #expect(kv == KeyValue(key: b("foo"), createRevision: 2, modRevision: 3, version: 2, value: b("baz")))
        h.delete("foo")
        h.put("foo", "again")
        let kv2 = try #require(try h.get("foo").kvs.first)
        #expect(kv2.createRevision == 5 && kv2.version == 1 && kv2.modRevision == 5)
    }

    @Test func rangeEndConventions() throws {
        let h = try Harness()
        for k in ["a", "ab", "abc", "b", "\u{7f}"] { h.put(k, k) }
        #expect(keys(try h.get("a")) == ["a"])
        #expect(keys(try h.get("ab", [0])) == ["ab", "abc", "b", "\u{7f}"])
        #expect(keys(try h.get("\0", [0])) == ["a", "ab", "abc", "b", "\u{7f}"])
        #expect(keys(try h.get("a", b("b"))) == ["a", "ab", "abc"])
        #expect(keys(try h.get("ab", prefixRangeEnd(b("ab")))) == ["ab", "abc"])
        #expect(keys(try h.get("b", b("a"))) == [])
        // Keys that differ only in length.
        #expect(keys(try h.get("ab")) == ["ab"])
    }

    @Test func prefixEndsAtFF() throws {
        #expect(prefixRangeEnd([0x61, 0xff]) == [0x62])
        #expect(prefixRangeEnd([0xff]) == [0])
        #expect(prefixRangeEnd([0xff, 0xff]) == [0])
        #expect(prefixRangeEnd(b("a")) == b("b"))
        let h = try Harness()
        h.apply(.put(PutRequest(key: [0x61, 0xff], value: b("x"))))
        h.apply(.put(PutRequest(key: [0x61, 0xff, 0x01], value: b("y"))))
        h.apply(.put(PutRequest(key: [0x62], value: b("z"))))
        h.apply(.put(PutRequest(key: [0xff, 0x00], value: b("w"))))
        let r = try h.store.range(RangeRequest(key: [0x61, 0xff], rangeEnd: prefixRangeEnd([0x61, 0xff])))
        #expect(r.kvs.map(\.key) == [[0x61, 0xff], [0x61, 0xff, 0x01]])
        let all = try h.store.range(RangeRequest(key: [0xff], rangeEnd: prefixRangeEnd([0xff])))
        #expect(all.kvs.map(\.key) == [[0xff, 0x00]])
    }

    @Test func limitMoreCountAndTenThousandKeys() throws {
        let h = try Harness()
        var batch: [(index: UInt64, op: WriteOp)] = []
        for i in 0..<10_000 {
            batch.append((UInt64(i + 1), .put(PutRequest(key: b(String(format: "k%05d", i)), value: b("v\(i)")))))
        }
        let results = h.store.applyBatch(batch)
        h.nextIndex = 10_001
        #expect(results.last?.revision == 10_001)
        #expect(h.store.consistentIndex == 10_000)
        let r = try h.store.range(RangeRequest(key: b("k"), rangeEnd: b("l"), limit: 10))
        #expect(r.kvs.count == 10 && r.more && r.count == 10_000)
        #expect(keys(r).first == "k00000")
        let all = try h.store.range(RangeRequest(key: b("k"), rangeEnd: b("l")))
        #expect(all.kvs.count == 10_000 && !all.more)
        let exact = try h.store.range(RangeRequest(key: b("k00000"), rangeEnd: b("k00010"), limit: 10))
        #expect(exact.kvs.count == 10 && !exact.more && exact.count == 10)
        let c = try h.store.range(RangeRequest(key: b("k"), rangeEnd: b("l"), countOnly: true))
        #expect(c.kvs.isEmpty && c.count == 10_000)
    }

    @Test func keysOnlySortAndFilters() throws {
        let h = try Harness()
        h.put("a", "3")  // rev 2
        h.put("b", "1")  // rev 3
        h.put("c", "2")  // rev 4
        h.put("a", "4")  // rev 5: a.version 2
        let ko = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), keysOnly: true))
        #expect(ko.kvs.allSatisfy { $0.value.isEmpty } && ko.kvs.count == 3)
        // Non-key target with order NONE sorts ascending.
        let byMod = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), sortTarget: .mod))
        #expect(keys(byMod) == ["b", "c", "a"])
        let byValueDesc = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), sortOrder: .descend, sortTarget: .value))
        #expect(keys(byValueDesc) == ["a", "c", "b"])
        let byKeyDesc = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), limit: 2, sortOrder: .descend))
        #expect(keys(byKeyDesc) == ["c", "b"] && byKeyDesc.more && byKeyDesc.count == 3)
        let byVersion = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), sortOrder: .descend, sortTarget: .version))
        #expect(keys(byVersion).first == "a")
        let byCreate = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), sortOrder: .ascend, sortTarget: .create))
        #expect(keys(byCreate) == ["a", "b", "c"])
        // Filters apply after counting, before the limit.
        let f = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), limit: 1, minModRevision: 3))
        #expect(keys(f) == ["a"] && f.more && f.count == 3)
        let f2 = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), maxModRevision: 3, maxCreateRevision: 2))
        #expect(keys(f2) == [] && f2.count == 3)
        let f3 = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), minCreateRevision: 3))
        #expect(keys(f3) == ["b", "c"])
        // keys_only with value sort still sorts by the real values.
        let kv = try h.store.range(RangeRequest(key: b("a"), rangeEnd: b("z"), sortOrder: .ascend, sortTarget: .value, keysOnly: true))
        #expect(keys(kv) == ["b", "c", "a"])
    }

    @Test func historicalReads() throws {
        let h = try Harness()
        h.put("k", "v1")  // 2
        h.put("k", "v2")  // 3
        h.delete("k")     // 4
        h.put("k", "v3")  // 5
        #expect(try h.value("k", rev: 2) == "v1")
        #expect(try h.value("k", rev: 3) == "v2")
        #expect(try h.value("k", rev: 4) == nil)
        #expect(try h.value("k", rev: 5) == "v3")
        #expect(try h.get("k", rev: 1).kvs.isEmpty)
        #expect(try h.get("k", rev: 3).revision == 5)
        #expect(throws: EtcdError.futureRevision) { try h.get("k", rev: 6) }
    }

    @Test func largeValues() throws {
        let h = try Harness()
        let big = [UInt8](repeating: 0xab, count: 1_500_000)
        let r = h.apply(.put(PutRequest(key: b("big"), value: big)))
        #expect(r.error == nil)
        #expect(try h.get("big").kvs.first?.value == big)
        try h.reopen()
        #expect(try h.get("big").kvs.first?.value == big)
    }
}
