// Thousands of operations from a simulated correct store must pass within the budget; one injected
// stale read must fail.
import Testing
@testable import Linearizability

/// Clients run operations one after another against a correct map; each takes effect at a random
/// point of its interval. Values are unique ("c<client>-<n>"), so an injected stale read is a
/// definite violation.
func simulatedHistory(seed: UInt64, clients: Int, operations count: Int, keys: Int, hotKeyPercent: Int) -> History {
    var rng = SplitMix(seed: seed)
    var clientTime = [Int](repeating: 0, count: clients)
    var operations: [Operation] = []
    var effectAt: [Int?] = []
    for id in 0..<count {
        let client = rng.int(clients)
        let call = clientTime[client] + rng.int(10)
        let ret = call + 1 + rng.int(50)
        clientTime[client] = ret
        let key = rng.chance(hotKeyPercent) ? "hot" : "k\(rng.int(keys))"
        let value = "c\(client)-\(id)"
        let input: Input = switch rng.int(10) {
        case 0, 1, 2, 3: .put(key: key, value: value)
        case 4, 5, 6: .get(key: key, consistency: .linearizable)
        case 7: .get(key: key, consistency: .serializable)
        case 8: .compareAndSet(key: key, expected: nil, new: value)  // filled in below when possible
        default: .delete(key: key)
        }
        if rng.chance(2) {
            operations.append(Operation(id: id, client: client, input: input, invokedAt: call, returnedAt: nil, outcome: .unknown))
            effectAt.append(rng.chance(50) ? call + rng.int(200) : nil)
        } else {
            operations.append(Operation(id: id, client: client, input: input, invokedAt: call, returnedAt: ret, outcome: .ok(.done)))
            effectAt.append(call + rng.int(ret - call + 1))
        }
    }
    var map: [String: String] = [:]
    let order = operations.indices.filter { effectAt[$0] != nil }.sorted { (effectAt[$0]!, $0) < (effectAt[$1]!, $1) }
    for i in order {
        let output: Output
        switch operations[i].input {
        case .put(let key, let value): map[key] = value; output = .done
        case .get(let key, _): output = .value(map[key])
        case .delete(let key): output = .deleted(map[key] == nil ? 0 : 1); map[key] = nil
        case .compareAndSet(let key, _, let new):
            // Compare against the current value half the time, so both answers occur.
            let expected = rng.chance(50) ? map[key] : nil
            operations[i].input = .compareAndSet(key: key, expected: expected, new: new)
            let holds = map[key] == expected
            if holds { map[key] = new }
            output = .succeeded(holds)
        }
        if case .ok = operations[i].outcome { operations[i].outcome = .ok(output) }
    }
    return History(operations)
}

/// Makes one linearizable read that follows two completed puts W1 → W2 of its key return W1's value.
func injectStaleRead(_ history: History) -> (History, Operation)? {
    var history = history
    let ops = history.operations
    let puts = ops.filter { if case .put = $0.input, case .ok = $0.outcome { true } else { false } }
    for read in ops {
        guard case .get(let key, .linearizable) = read.input, case .ok = read.outcome else { continue }
        let before = puts.filter { $0.input.key == key && $0.returnedAt! < read.invokedAt }
        for w2 in before.reversed() {
            if let w1 = before.last(where: { $0.returnedAt! < w2.invokedAt }), case .put(_, let stale) = w1.input {
                history.operations[read.id].outcome = .ok(.value(stale))
                return (history, history.operations[read.id])
            }
        }
    }
    return nil
}

@Suite struct LargeHistories {
    @Test func thousandsOfOperationsAcrossManyKeysPass() {
        let history = simulatedHistory(seed: 7, clients: 16, operations: 6000, keys: 50, hotKeyPercent: 20)
        let start = ContinuousClock.now
        let result = Linearizability.check(history, limits: Limits(timeBudget: .seconds(20)))
        #expect(result == .linearizable, "\(result)")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func oneInjectedStaleReadFails() throws {
        let history = simulatedHistory(seed: 7, clients: 16, operations: 6000, keys: 50, hotKeyPercent: 20)
        let (broken, stale) = try #require(injectStaleRead(history))
        let result = Linearizability.check(broken, limits: Limits(timeBudget: .seconds(20)))
        guard case .notLinearizable(let violation) = result else {
            Issue.record("expected a violation, got \(result)")
            return
        }
        #expect(violation.key == stale.input.key)
        #expect(violation.operations.contains(stale), "\(violation)")
        // The core is the stale read and the puts it contradicts (those overlapping them may stay).
        #expect(violation.core.contains(stale) && violation.core.count <= 6, "\(violation)")
    }

    @Test func manySeedsOfModerateHistoriesPass() {
        for seed in 100..<140 as Range<UInt64> {
            let history = simulatedHistory(seed: seed, clients: 6, operations: 300, keys: 3, hotKeyPercent: 30)
            let result = Linearizability.check(history)
            #expect(result == .linearizable, "seed \(seed): \(result)")
            if let (broken, _) = injectStaleRead(history) {
                #expect(Linearizability.check(broken).isViolation, "seed \(seed)")
            }
        }
    }
}
