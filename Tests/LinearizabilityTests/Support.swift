// Builders for hand-made histories, a seeded RNG, and the brute-force reference checker.
import Linearizability

/// Collects operations with ids in the order they are added.
struct Builder {
    var operations: [Operation] = []

    var history: History { History(operations) }

    private mutating func add(_ client: Int, _ input: Input, _ call: Int, _ ret: Int?, _ outcome: Outcome) {
        operations.append(Operation(
            id: operations.count, client: client, input: input, invokedAt: call, returnedAt: ret, outcome: outcome))
    }

    mutating func put(_ client: Int, _ key: String, _ value: String, _ call: Int, _ ret: Int) {
        add(client, .put(key: key, value: value), call, ret, .ok(.done))
    }

    mutating func get(_ client: Int, _ key: String, _ value: String?, _ call: Int, _ ret: Int,
                      serializable: Bool = false) {
        add(client, .get(key: key, consistency: serializable ? .serializable : .linearizable), call, ret,
            .ok(.value(value)))
    }

    mutating func cas(_ client: Int, _ key: String, _ expected: String?, _ new: String, succeeded: Bool,
                      _ call: Int, _ ret: Int) {
        add(client, .compareAndSet(key: key, expected: expected, new: new), call, ret, .ok(.succeeded(succeeded)))
    }

    mutating func delete(_ client: Int, _ key: String, deleted: Int?, _ call: Int, _ ret: Int) {
        add(client, .delete(key: key), call, ret, .ok(deleted.map { .deleted($0) } ?? .done))
    }

    /// Timed out: may take effect at any time after `call`, or never.
    mutating func unknown(_ client: Int, _ input: Input, _ call: Int) {
        add(client, input, call, nil, .unknown)
    }

    /// Definitely not applied.
    mutating func failed(_ client: Int, _ input: Input, _ call: Int, _ ret: Int) {
        add(client, input, call, ret, .failed)
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func chance(_ percent: Int) -> Bool { int(100) < percent }
}

/// The specification, spelled out independently of the checker: some order of all completed
/// operations plus any subset of unknown ones (failed ones dropped) where every answer matches a
/// sequential map over all keys, and `precedes` pairs keep their order. No memoization, no lists,
/// no partitioning: every placement order is tried.
enum BruteForce {
    static func precedes(_ a: Operation, _ b: Operation) -> Bool {
        guard let returned = a.returnedAt, returned < b.invokedAt else { return false }
        if case .get(_, .serializable) = b.input, a.client != b.client { return false }
        return true
    }

    /// The map after `operation`, or nil when its recorded answer contradicts `map`.
    static func apply(_ operation: Operation, to map: [String: String]) -> [String: String]? {
        var map = map
        let output: Output? = if case .ok(let output) = operation.outcome { output } else { nil }
        switch operation.input {
        case .put(let key, let value):
            map[key] = value
        case .get(let key, _):
            if let output, output != .value(map[key]) { return nil }
        case .delete(let key):
            if case .deleted(let count)? = output, count != (map[key] == nil ? 0 : 1) { return nil }
            map[key] = nil
        case .compareAndSet(let key, let expected, let new):
            let holds = map[key] == expected
            if let output, output != .succeeded(holds) { return nil }
            if holds { map[key] = new }
        }
        return map
    }

    static func check(_ history: History) -> Bool {
        let operations = history.operations.filter { if case .failed = $0.outcome { false } else { true } }
        let required = operations.map { if case .ok = $0.outcome { true } else { false } }
        var placed = [Bool](repeating: false, count: operations.count)
        func search(_ map: [String: String], missing: Int) -> Bool {
            if missing == 0 { return true }
            for i in operations.indices where !placed[i] {
                // Placing i now puts every unplaced operation after it.
                if operations.indices.contains(where: { j in
                    j != i && !placed[j] && precedes(operations[j], operations[i])
                }) { continue }
                guard let next = apply(operations[i], to: map) else { continue }
                placed[i] = true
                if search(next, missing: missing - (required[i] ? 1 : 0)) { return true }
                placed[i] = false
            }
            return false
        }
        return search([:], missing: required.filter { $0 }.count)
    }

    /// The same, one key at a time (what the checker decides for serializable reads).
    static func checkPerKey(_ history: History) -> Bool {
        Dictionary(grouping: history.operations, by: \.input.key).values.allSatisfy { check(History($0)) }
    }
}
