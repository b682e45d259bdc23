import Testing
@testable import MVCC

/// The chunked key index against a trivially correct model (a sorted array of keys + live flags), under
/// seeded random puts, deletes, range scans and compactions that force many chunk splits.
@Suite struct TreeIndexTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func key(_ n: Int, _ rng: inout SplitMix64) -> [UInt8] {
        // Variable lengths and 0x00 / 0xff bytes, so ordering by length and by byte both matter.
        let length = Int.random(in: 1...3, using: &rng)
        return (0..<length).map { i in i == 0 ? UInt8(n % 251) : [0x00, 0x7f, 0xff][Int.random(in: 0...2, using: &rng)] }
    }

    @Test(arguments: [1, 2, 3]) func matchesASortedModel(seed: UInt64) {
        var rng = SplitMix64(state: seed)
        var index = TreeIndex()
        var live: [[UInt8]: Bool] = [:]  // key -> alive now
        var rev: Int64 = 1
        for step in 0..<6000 {
            rev += 1
            let k = Self.key(Int.random(in: 0..<2000, using: &rng), &rng)
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<7:
                index.put(k, Revision(main: rev, sub: 0))
                live[k] = true
            case 7, 8:
                let deleted = index.tombstone(k, Revision(main: rev, sub: 0))
                #expect(deleted == (live[k] == true), "seed \(seed) step \(step)")
                if deleted { live[k] = false }
            default:
                if step % 50 == 0 {
                    _ = index.compact(atRev: rev)
                    live = live.filter { $0.value }  // compaction drops keys whose last generation ended
                }
            }
        }
        let expectedKeys = live.keys.sorted { keyLess($0, $1) }
        #expect(index.allKeys == expectedKeys, "seed \(seed)")
        #expect(index.keyCount == expectedKeys.count)
        // Every kind of span agrees with the model.
        let alive = expectedKeys.filter { live[$0] == true }
        #expect(index.revisions(.atLeast([]), at: rev, limit: 0).count == alive.count)
        for _ in 0..<200 {
            let a = Self.key(Int.random(in: 0..<2000, using: &rng), &rng)
            let b = Self.key(Int.random(in: 0..<2000, using: &rng), &rng)
            let (lo, hi) = keyLess(a, b) ? (a, b) : (b, a)
            let expected = alive.filter { !keyLess($0, lo) && keyLess($0, hi) }
            #expect(index.liveKeys(.between(lo, hi), at: rev) == expected, "seed \(seed) [\(lo), \(hi))")
            #expect(index.revisions(.between(lo, hi), at: rev, limit: 3).revisions.count == min(3, expected.count))
            #expect(index.liveKeys(.single(lo), at: rev) == (live[lo] == true ? [lo] : []))
        }
    }

    @Test func keyOrderIsBytewiseThenLength() {
        #expect(keyLess([0x61], [0x61, 0x00]))
        #expect(!keyLess([0x61, 0x00], [0x61]))
        #expect(keyLess([], [0x00]))
        #expect(keyLess([0x7f], [0xff]))
        #expect(!keyLess([0xff], [0xff]))
    }

    /// Keys sharing a long prefix (etcd's "/registry/..." shape), some shorter than it or
    /// diverging inside it, in random order: the inline heads after the shared prefix must keep
    /// every search exact, including keys that tie on their 8 head bytes.
    @Test(arguments: [7, 8]) func prefixedKeysMatchASortedModel(seed: UInt64) {
        var rng = SplitMix64(state: seed)
        let prefix = Array("/registry/pods/default/".utf8)
        func key() -> [UInt8] {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: return Array(prefix[0..<Int.random(in: 0...prefix.count, using: &rng)])  // a prefix of the prefix
            case 1: return Array("/registry/p".utf8) + [UInt8.random(in: 0...0xff, using: &rng)]  // diverges inside it
            default:
                // Long tails that agree in their first 8 bytes, so heads tie and keys decide.
                let tail = Array("pod-name-".utf8) + (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                    [0x00, 0x41, 0xff][Int.random(in: 0...2, using: &rng)]
                }
                return prefix + tail
            }
        }
        var index = TreeIndex()
        var live = Set<[UInt8]>()
        var rev: Int64 = 1
        for _ in 0..<3000 {
            rev += 1
            let k = key()
            if Int.random(in: 0..<5, using: &rng) == 0 {
                let deleted = index.tombstone(k, Revision(main: rev, sub: 0))
                #expect(deleted == live.contains(k))
                live.remove(k)
            } else {
                index.put(k, Revision(main: rev, sub: 0))
                live.insert(k)
            }
        }
        _ = index.allKeys  // checks every chunk's sorted order, shared prefix and heads
        let alive = live.sorted { keyLess($0, $1) }
        for _ in 0..<300 {
            let (a, b) = (key(), key())
            let (lo, hi) = keyLess(a, b) ? (a, b) : (b, a)
            #expect(index.liveKeys(.between(lo, hi), at: rev) == alive.filter { !keyLess($0, lo) && keyLess($0, hi) })
            #expect((index.get(a, at: rev) != nil) == live.contains(a))
        }
    }

    /// Keys whose bytes after a shared prefix fit a head (0–8 of them, zeros included, so "a" and
    /// "a\0" tie on heads) and a few just longer: lengths decide ties without reading keys, and every
    /// lookup and span stays exact against a sorted model.
    @Test(arguments: [11, 12]) func shortTailsTieOnHeadsAndLengthsDecide(seed: UInt64) {
        var rng = SplitMix64(state: seed)
        let prefix = Array("/k/".utf8)
        func key() -> [UInt8] {
            let n = Int.random(in: 0...10, using: &rng)
            let tail = (0..<n).map { _ in [0x00, 0x01, 0xff][Int.random(in: 0...2, using: &rng)] as UInt8 }
            return Int.random(in: 0..<20, using: &rng) == 0 ? Array(prefix.prefix(2)) + tail : prefix + tail
        }
        var index = TreeIndex()
        var live = Set<[UInt8]>()
        var rev: Int64 = 1
        for _ in 0..<4000 {
            rev += 1
            let k = key()
            if Int.random(in: 0..<5, using: &rng) == 0 {
                #expect(index.tombstone(k, Revision(main: rev, sub: 0)) == live.contains(k))
                live.remove(k)
            } else {
                let before = index.get(k, at: rev)
                let previous = index.put(k, Revision(main: rev, sub: 0), returningPrevious: ())
                #expect((previous == nil) == (before == nil) && (previous == nil) == !live.contains(k), "key \(k)")
                live.insert(k)
            }
        }
        _ = index.allKeys  // checks every chunk's order, prefix, heads and tails
        let alive = live.sorted { keyLess($0, $1) }
        for _ in 0..<500 {
            let (a, b) = (key(), key())
            let (lo, hi) = keyLess(a, b) ? (a, b) : (b, a)
            #expect(index.liveKeys(.between(lo, hi), at: rev) == alive.filter { !keyLess($0, lo) && keyLess($0, hi) })
            #expect((index.get(a, at: rev) != nil) == live.contains(a), "key \(a)")
        }
    }

    /// Keys written in increasing order (keel-bench --sequential-keys, or any growing counter)
    /// fill chunks completely instead of leaving each half empty after its split.
    @Test func sequentialKeysFillChunks() {
        var index = TreeIndex()
        let n = 10 * TreeIndex.maxChunk + 3
        for i in 0..<n {
            let k: [UInt8] = [UInt8(i >> 16 & 0xff), UInt8(i >> 8 & 0xff), UInt8(i & 0xff)]
            index.put(k, Revision(main: Int64(i + 2), sub: 0))
        }
        #expect(index.allKeys.count == n)
        #expect(index.chunkCount == (n + TreeIndex.maxChunk - 1) / TreeIndex.maxChunk)
        #expect(index.get([0, 1, 0], at: Int64(n + 2))?.modified == Revision(main: 256 + 2, sub: 0))
    }

    /// A key's history spills out of the inline form on its second revision and folds back when a
    /// compaction leaves one live revision; answers agree in both forms.
    @Test func keyHistoryInlineAndSpilled() {
        var index = TreeIndex()
        let k: [UInt8] = [0x61]
        index.put(k, Revision(main: 2, sub: 0))
        #expect(index.get(k, at: 2)! == (Revision(main: 2, sub: 0), Revision(main: 2, sub: 0), 1))
        #expect(index.get(k, at: 1) == nil)
        index.put(k, Revision(main: 3, sub: 0))
        #expect(index.get(k, at: 2)! == (Revision(main: 2, sub: 0), Revision(main: 2, sub: 0), 1))
        #expect(index.get(k, at: 3)! == (Revision(main: 3, sub: 0), Revision(main: 2, sub: 0), 2))
        var kept = index.compact(atRev: 3)
        #expect(kept == [Revision(main: 3, sub: 0)])
        #expect(index.get(k, at: 3)! == (Revision(main: 3, sub: 0), Revision(main: 2, sub: 0), 2))
        let first = index.tombstone(k, Revision(main: 4, sub: 0))
        let second = index.tombstone(k, Revision(main: 5, sub: 0))
        #expect(first && !second)
        #expect(index.get(k, at: 4) == nil)
        #expect(index.get(k, at: 3)!.version == 2)
        index.put(k, Revision(main: 6, sub: 0))
        #expect(index.get(k, at: 6)! == (Revision(main: 6, sub: 0), Revision(main: 6, sub: 0), 1))
        kept = index.compact(atRev: 6)
        #expect(kept == [Revision(main: 6, sub: 0)])
        #expect(index.keyCount == 1)
        #expect(index.get(k, at: 6)! == (Revision(main: 6, sub: 0), Revision(main: 6, sub: 0), 1))
    }

    /// A Put's view of the key it replaces (`put(_:_:returningPrevious:)`, read in O(1) from the current
    /// generation) is what `get(at:)` answers just before, through puts, deletes, several changes in one
    /// revision (txn sub revisions) and compactions.
    @Test func putReturnsWhatGetAnsweredJustBefore() {
        var index = TreeIndex()
        var state: UInt64 = 0xD1B5_4A32_D192_ED03
        func next(_ n: UInt64) -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (state >> 33) % n
        }
        var main: Int64 = 1
        for _ in 0..<5000 {
            main += 1
            let changes = 1 + Int(next(3))
            for sub in 0..<changes {
                let key: [UInt8] = [0x6B, UInt8(next(12))]
                let rev = Revision(main: main, sub: Int64(sub))
                if next(4) == 0 {
                    _ = index.tombstone(key, rev)
                } else {
                    let before = index.get(key, at: main)
                    let previous = index.put(key, rev, returningPrevious: ())
                    #expect(previous.map { [$0.modified.main, $0.modified.sub, $0.created.main, $0.created.sub, $0.version] }
                            == before.map { [$0.modified.main, $0.modified.sub, $0.created.main, $0.created.sub, $0.version] },
                            "key \(key) at \(rev)")
                }
            }
            if next(50) == 0 { _ = index.compact(atRev: main - Int64(next(5))) }
        }
    }
}
