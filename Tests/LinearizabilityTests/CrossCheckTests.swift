// The checker against the brute force on thousands of small random histories.
import Testing
@testable import Linearizability

/// Up to 7 operations of 2–3 sequential clients on 1–2 keys with values from a set of three (so
/// values repeat and searches have to branch). Each operation takes effect at a random point of its
/// interval (unknown ones possibly later, or never; failed ones never) and answers what a map would;
/// then, in about 40% of histories, one answer is changed — which may or may not break the history.
func randomSmallHistory(seed: UInt64) -> History {
    var rng = SplitMix(seed: seed)
    let clients = 2 + rng.int(2)
    let keys = ["x", "y"].prefix(1 + rng.int(2))
    let values = ["1", "2", "3"]
    var clientTime = [Int](repeating: 0, count: clients)
    var operations: [Operation] = []
    var effectAt: [Int?] = []
    for id in 0..<(1 + rng.int(7)) {
        let client = rng.int(clients)
        let call = clientTime[client] + rng.int(3)
        let ret = call + rng.int(6)
        clientTime[client] = ret
        let key = keys[rng.int(keys.count)]
        let input: Input = switch rng.int(10) {
        case 0, 1, 2: .put(key: key, value: values[rng.int(3)])
        case 3, 4, 5: .get(key: key, consistency: rng.chance(30) ? .serializable : .linearizable)
        case 6, 7: .compareAndSet(key: key, expected: rng.chance(25) ? nil : values[rng.int(3)], new: values[rng.int(3)])
        default: .delete(key: key)
        }
        let roll = rng.int(100)
        if roll < 12 {
            // Unknown: took effect somewhere after the call (maybe after the client moved on), or never.
            operations.append(Operation(id: id, client: client, input: input, invokedAt: call, returnedAt: nil, outcome: .unknown))
            effectAt.append(rng.chance(50) ? call + rng.int(10) : nil)
        } else if roll < 17 {
            operations.append(Operation(id: id, client: client, input: input, invokedAt: call, returnedAt: ret, outcome: .failed))
            effectAt.append(nil)
        } else {
            operations.append(Operation(id: id, client: client, input: input, invokedAt: call, returnedAt: ret, outcome: .ok(.done)))
            effectAt.append(call + rng.int(ret - call + 1))
        }
    }
    // Run the operations that took effect in effect order (ties by id) to get the answers.
    var map: [String: String] = [:]
    let order = operations.indices.filter { effectAt[$0] != nil }.sorted { (effectAt[$0]!, $0) < (effectAt[$1]!, $1) }
    for i in order {
        let output: Output
        switch operations[i].input {
        case .put(let key, let value): map[key] = value; output = .done
        case .get(let key, _): output = .value(map[key])
        case .delete(let key):
            output = rng.chance(50) ? .deleted(map[key] == nil ? 0 : 1) : .done
            map[key] = nil
        case .compareAndSet(let key, let expected, let new):
            let holds = map[key] == expected
            if holds { map[key] = new }
            output = .succeeded(holds)
        }
        if case .ok = operations[i].outcome { operations[i].outcome = .ok(output) }
    }
    if rng.chance(40) {
        let answered = operations.indices.filter {
            if case .ok(let output) = operations[$0].outcome { output != .done } else { false }
        }
        if !answered.isEmpty {
            let i = answered[rng.int(answered.count)]
            switch operations[i].outcome {
            case .ok(.value(let read)):
                let others = ([nil] + values.map { Optional($0) }).filter { $0 != read }
                operations[i].outcome = .ok(.value(others[rng.int(others.count)]))
            case .ok(.succeeded(let succeeded)): operations[i].outcome = .ok(.succeeded(!succeeded))
            case .ok(.deleted(let count)): operations[i].outcome = .ok(.deleted(1 - count))
            default: break
            }
        }
    }
    return History(operations)
}

@Suite struct CrossCheck {
    static let seeds: UInt64 = 4000

    @Test func checkerAgreesWithBruteForce() {
        var passed = 0, failed = 0, disagreements: [String] = []
        for seed in 0..<Self.seeds {
            let history = randomSmallHistory(seed: seed)
            let result = Linearizability.check(history)
            let expected = BruteForce.checkPerKey(history)
            switch result {
            case .linearizable: passed += 1
            case .notLinearizable(let violation):
                failed += 1
                // The core must fail on its own, with the key's other completed operations relaxed.
                // And it is 1-minimal: relaxing any one more operation gives a valid order.
                let core = Set(violation.core.map(\.id))
                func relaxed(keeping kept: Set<Int>) -> History {
                    History(violation.operations.compactMap { operation in
                        var operation = operation
                        guard case .ok = operation.outcome, !kept.contains(operation.id) else { return operation }
                        if case .get = operation.input { return nil }
                        operation.outcome = .unknown
                        operation.returnedAt = nil
                        return operation
                    })
                }
                if core.isEmpty || BruteForce.check(relaxed(keeping: core)) {
                    disagreements.append("seed \(seed): core \(core.sorted()) does not fail alone\n\(violation)")
                }
                for id in core where !BruteForce.check(relaxed(keeping: core.subtracting([id]))) {
                    disagreements.append("seed \(seed): core \(core.sorted()) still fails without #\(id)")
                }
            case .inconclusive(let reason):
                disagreements.append("seed \(seed): inconclusive (\(reason))")
                continue
            }
            if result.isLinearizable != expected {
                disagreements.append("seed \(seed): checker \(result), brute force \(expected)\n\(history.operations.map(\.description).joined(separator: "\n"))")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(3).joined(separator: "\n\n"))")
        // Both verdicts must be well represented, or the cross-check proves little.
        #expect(passed > Int(Self.seeds) / 5 && failed > Int(Self.seeds) / 5, "passed \(passed), failed \(failed)")
    }

    /// Without serializable reads, the per-key answer is exact (locality): it must equal the brute
    /// force over all keys at once. With them, per key is only necessary: global success implies it.
    @Test func partitioningByKeyIsExactForLinearizableOperations() {
        var compared = 0
        for seed in 0..<Self.seeds {
            let history = randomSmallHistory(seed: seed)
            guard Set(history.operations.map(\.input.key)).count > 1 else { continue }
            let global = BruteForce.check(history)
            let checker = Linearizability.check(history).isLinearizable
            let hasSerializable = history.operations.contains { $0.input.key.isEmpty == false && {
                if case .get(_, .serializable) = $0.input { true } else { false } }($0) }
            if hasSerializable {
                #expect(!global || checker, "seed \(seed)")
            } else {
                #expect(global == checker, "seed \(seed)")
                compared += 1
            }
        }
        #expect(compared > 500)
    }
}
