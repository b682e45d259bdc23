// A linearizability checker for KV histories: Wing & Gong's search with Lowe's memoization, the
// approach of Porcupine (github.com/anishathalye/porcupine), written from the papers.
//
// What is checked. A history is correct when there is a total order of the operations that took
// effect (every `.ok` operation, plus any subset of the `.unknown` ones; `.failed` ones are dropped)
// such that
//   1. run one after the other on a sequential KV map (initially empty), each `.ok` operation returns
//      what it did return (an unknown one may return anything), and
//   2. if a returned before b was invoked (a.returnedAt < b.invokedAt, strictly), a comes before b —
//      except when b is a serializable read of another client than a.
// So linearizable operations respect real time, and a serializable read may be stale: it may be
// placed before writes that completed before it started, but never before its own client's earlier
// (returned) operations — read-your-writes, monotonic reads — and never after an operation invoked
// after the read returned (no reads from the future). That is sequential consistency per client,
// bounded by real time on the "future" side. It holds for a client that stays on one member (etcd
// waits for the local apply before answering a write, and serves serializable reads from its local
// state); a test client that reconnects to another member must continue under a new client id.
// An unknown operation never returns, so it precedes nothing: it may take effect any time after its
// invocation — even after its client's later operations — or never.
//
// Partitioning. Every operation touches one key, so the check runs per key (P-compositionality):
// linearizability is local (Herlihy & Wing), so the per-key answers are exact for histories of
// linearizable operations. Sequential consistency is not local: for serializable reads the per-key
// check is necessary, not sufficient (an anomaly that spans keys, ordered only through operations on
// other keys, goes unseen).
//
// Limits. The search is exponential in the worst case (the problem is NP-complete); each key gets at
// most `Limits.maxOperationsPerKey` operations, `Limits.maxStepsPerKey` model steps and
// `Limits.maxCacheBytesPerKey` of memoized states, and the whole check `Limits.timeBudget`. When one
// runs out the answer is `.inconclusive(reason)`, never a guess. A definite violation on any key wins
// over an inconclusive one elsewhere.
//
// Reports. A violation names the key, the longest valid order found, the operations that could come
// next and why each does not fit, and a 1-minimal core of contradicting operations (ddmin, within
// `Limits.minimizationBudget`) for test failure messages.

public struct Limits: Sendable, Hashable {
    public var maxOperationsPerKey: Int
    public var maxStepsPerKey: Int
    public var maxCacheBytesPerKey: Int
    public var timeBudget: Duration
    /// Time to spend shrinking a violation to `Violation.core` (zero: skip).
    public var minimizationBudget: Duration

    public init(
        maxOperationsPerKey: Int = 50_000,
        maxStepsPerKey: Int = 20_000_000,
        maxCacheBytesPerKey: Int = 512 << 20,
        timeBudget: Duration = .seconds(120),
        minimizationBudget: Duration = .seconds(2)
    ) {
        self.maxOperationsPerKey = maxOperationsPerKey
        self.maxStepsPerKey = maxStepsPerKey
        self.maxCacheBytesPerKey = maxCacheBytesPerKey
        self.timeBudget = timeBudget
        self.minimizationBudget = minimizationBudget
    }
}

/// Why a key's history has no valid order.
public struct Violation: Sendable, Hashable, CustomStringConvertible {
    public var key: String
    /// Every operation of the key that the search considered (failed ones and unknown reads dropped).
    public var operations: [Operation]
    /// The longest valid order found (the most `.ok` operations placed), in order.
    public var longestPrefix: [Operation]
    /// The key's value after that prefix (nil: absent).
    public var valueAfterPrefix: String?
    /// The operations that could come next in real time, each with why it does not fit (or that it
    /// fits but nothing can follow).
    public var stuck: [Stuck]
    /// Set instead of the above when the history fails a quick pre-check (e.g. a value read that no
    /// write of the key ever wrote).
    public var summary: String
    /// A small set of completed operations that contradict each other on their own: with every other
    /// completed operation relaxed (reads dropped, writes made unknown — they may or may not have
    /// happened, at any time after their invocation) the key still has no valid order, and relaxing
    /// any one of these too gives one (1-minimal) — unless `Limits.minimizationBudget` ran out first
    /// (then it is smaller than `operations` but maybe not minimal). Empty when not computed.
    public var core: [Operation] = []

    public struct Stuck: Sendable, Hashable {
        public var operation: Operation
        public var reason: String
    }

    public var description: String {
        var lines = ["key \(quoted(key)): not linearizable (\(operations.count) operations). \(summary)"]
        if !core.isEmpty {
            lines.append("These \(core.count) operations contradict each other (whatever the others did):")
            for operation in core.prefix(32) { lines.append("  \(operation)") }
        }
        if !longestPrefix.isEmpty || !stuck.isEmpty {
            let completed = operations.filter { if case .ok = $0.outcome { true } else { false } }.count
            let placed = longestPrefix.filter { if case .ok = $0.outcome { true } else { false } }.count
            lines.append("Longest valid order places \(placed) of \(completed) completed operations; it ends with:")
            for operation in longestPrefix.suffix(8) { lines.append("  \(operation)") }
            lines.append("Value then: \(quoted(valueAfterPrefix)). Possible next operations:")
            for next in stuck.prefix(16) { lines.append("  \(next.operation): \(next.reason)") }
            if stuck.count > 16 { lines.append("  … \(stuck.count - 16) more") }
        }
        return lines.joined(separator: "\n")
    }
}

public enum CheckResult: Sendable, Hashable, CustomStringConvertible {
    case linearizable
    case notLinearizable(Violation)
    case inconclusive(String)

    public var isLinearizable: Bool { self == .linearizable }
    public var isViolation: Bool { if case .notLinearizable = self { true } else { false } }

    public var description: String {
        switch self {
        case .linearizable: "linearizable"
        case .notLinearizable(let violation): violation.description
        case .inconclusive(let reason): "inconclusive: \(reason)"
        }
    }
}

public enum Linearizability {
    public static func check(_ history: History, limits: Limits = Limits()) -> CheckResult {
        let start = ContinuousClock.now
        let deadline = start.advanced(by: limits.timeBudget)
        if let problem = malformed(history) { return .inconclusive(problem) }

        var byKey: [String: [Operation]] = [:]
        for operation in history.operations {
            switch (operation.outcome, operation.input) {
            case (.failed, _): continue  // never took effect
            case (.unknown, .get): continue  // no effect and no output: nothing to check
            default: byKey[operation.input.key, default: []].append(operation)
            }
        }
        // Small keys first: a violation found early saves the big searches.
        var inconclusive: [String] = []
        for (key, operations) in byKey.sorted(by: { ($0.value.count, $0.key) < ($1.value.count, $1.key) }) {
            if operations.count > limits.maxOperationsPerKey {
                inconclusive.append("key \(quoted(key)) has \(operations.count) operations (limit \(limits.maxOperationsPerKey))")
                continue
            }
            switch checkKey(key, operations, limits: limits, deadline: deadline) {
            case .linearizable: continue
            case .notLinearizable(var violation):
                violation.core = minimize(key, violation.operations, limits: limits)
                return .notLinearizable(violation)
            case .inconclusive(let reason): inconclusive.append(reason)
            }
        }
        return inconclusive.isEmpty ? .linearizable : .inconclusive(inconclusive.joined(separator: "; "))
    }

    private static func malformed(_ history: History) -> String? {
        var ids = Set<Int>()
        for operation in history.operations {
            guard ids.insert(operation.id).inserted else { return "operation id \(operation.id) used twice" }
            switch operation.outcome {
            case .ok(let output):
                guard let returned = operation.returnedAt, returned >= operation.invokedAt else {
                    return "\(operation): a completed operation needs a return time not before its invocation"
                }
                switch (operation.input, output) {
                case (.put, .done), (.get, .value), (.delete, .done), (.delete, .deleted(0...1)),
                     (.compareAndSet, .succeeded): break
                default: return "\(operation): output does not match the request"
                }
            case .unknown:
                if operation.returnedAt != nil { return "\(operation): an unknown outcome has no return time" }
            case .failed: break
            }
        }
        return nil
    }

    /// Delta debugging (Zeller's ddmin) over the completed operations of a failing key. Relaxing only
    /// ever adds valid orders, so every set kept still fails; rechecks that hit their (small) step
    /// budget count as "passes", which keeps the answer sound, just less small.
    static func minimize(_ key: String, _ operations: [Operation], limits: Limits) -> [Operation] {
        guard limits.minimizationBudget > .zero else { return [] }
        let deadline = ContinuousClock.now.advanced(by: limits.minimizationBudget)
        var recheck = limits
        recheck.maxStepsPerKey = min(limits.maxStepsPerKey, 200_000)
        func fails(keeping core: [Int]) -> Bool {
            let kept = Set(core)
            let relaxed: [Operation] = operations.indices.compactMap { i in
                var operation = operations[i]
                guard case .ok = operation.outcome, !kept.contains(i) else { return operation }
                if case .get = operation.input { return nil }
                operation.outcome = .unknown
                operation.returnedAt = nil
                return operation
            }
            return checkKey(key, relaxed, limits: recheck, deadline: deadline).isViolation
        }
        var core = operations.indices.filter { if case .ok = operations[$0].outcome { true } else { false } }
        var chunk = max(1, core.count / 2)
        while ContinuousClock.now < deadline {
            var start = 0, shrunk = false
            while start < core.count && ContinuousClock.now < deadline {
                let trial = Array(core[..<start] + core[min(core.count, start + chunk)...])
                if fails(keeping: trial) {
                    core = trial
                    shrunk = true
                } else {
                    start += chunk
                }
            }
            if chunk == 1 && !shrunk { break }
            chunk = max(1, chunk / 2)
        }
        return core.map { operations[$0] }
    }

    static func checkKey(_ key: String, _ operations: [Operation], limits: Limits,
                         deadline: ContinuousClock.Instant) -> CheckResult {
        // Quick pre-check: a read of a value no write of this key ever wrote cannot be placed anywhere.
        var written = Set<String>()
        for operation in operations {
            switch operation.input {
            case .put(_, let value), .compareAndSet(_, _, let value): written.insert(value)
            default: break
            }
        }
        for operation in operations {
            if case .ok(.value(let value?)) = operation.outcome, !written.contains(value) {
                return .notLinearizable(Violation(
                    key: key, operations: operations, longestPrefix: [], valueAfterPrefix: nil, stuck: [],
                    summary: "\(operation) read a value no operation on the key wrote."))
            }
        }
        var search = Search(key: key, operations: operations, limits: limits, deadline: deadline)
        return search.run()
    }
}
