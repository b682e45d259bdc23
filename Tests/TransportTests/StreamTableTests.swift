import Testing
@testable import Transport

/// The stream table against a Dictionary, through random inserts, replacements, removals and growth.
@Suite struct StreamTableTests {
    @Test func matchesADictionaryThroughRandomOperations() {
        var table = StreamTable<Int>()
        var model: [Int32: Int] = [:]
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        for step in 0..<200_000 {
            // Ids from a small range so probe runs collide, wrap and shift often; phases of growth and shrinkage.
            let range: UInt64 = step % 40_000 < 20_000 ? 3000 : 300
            let id = Int32(next() % range) * 2 + 1
            switch next() % 3 {
            case 0:
                table[id] = step
                model[id] = step
            case 1:
                #expect(table.removeValue(forKey: id) == model.removeValue(forKey: id), "step \(step)")
            default:
                #expect(table[id] == model[id], "step \(step)")
            }
            #expect(table.count == model.count)
        }
        for (id, value) in model { #expect(table[id] == value) }
        #expect(table.values.sorted() == model.values.sorted())
        table.removeAll()
        #expect(table.isEmpty && table[1] == nil)
    }
}
