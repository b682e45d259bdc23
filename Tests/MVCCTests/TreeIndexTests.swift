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
}
