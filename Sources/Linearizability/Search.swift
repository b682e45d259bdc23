// The search for one key: depth-first over "which operation takes effect next", Wing & Gong, with
// Lowe's cache of (set of operations placed, value) pairs already explored — two paths that placed
// the same operations and left the same value have the same future, so the second is cut.
//
// Candidates. Rule 2 of Checker.swift says an operation may come next when no operation still
// unplaced precedes it. For a linearizable operation that is "invoked no later than the earliest
// return among unplaced operations"; for a serializable read of client c, "no later than the earliest
// return among c's unplaced operations". Dancing-links lists keep both minimums and the candidates at
// hand in O(1) per step (unplacing restores a node in LIFO order): all unplaced operations by
// invocation, all by return, per client by return, and per client its serializable reads by invocation.
//
// The search is iterative (depth reaches the number of operations of a key; no recursion).

/// The sequential model of one key, on interned values (-1: the key is absent).
enum Step {
    case put(Int32)
    case get(Int32)
    case delete(Int?)
    case compareAndSet(expected: Int32, new: Int32, succeeded: Bool?)

    /// The value after the step, or nil when the recorded output contradicts `value`.
    @inline(__always) func apply(_ value: Int32) -> Int32? {
        switch self {
        case .put(let new): return new
        case .get(let read): return value == read ? value : nil
        case .delete(let count):
            if let count, count != (value >= 0 ? 1 : 0) { return nil }
            return -1
        case .compareAndSet(let expected, let new, let succeeded):
            let holds = value == expected
            switch succeeded {
            case nil: return holds ? new : value  // unknown outcome: it applies iff the comparison holds
            case true?: return holds ? new : nil
            case false?: return holds ? nil : value
            }
        }
    }
}

private struct Frame {
    var operation: Int32
    var phase: Int32
    var valueBefore: Int32
}

struct Search {
    let key: String
    let limits: Limits
    let deadline: ContinuousClock.Instant
    /// Sorted by invocation (then id); index = node number in the lists.
    let operations: [Operation]
    let steps: [Step]
    let invoked: [Int]
    let returned: [Int]  // Int.max for unknown outcomes
    let completed: [Bool]
    let serializable: [Bool]
    let client: [Int]  // dense client index
    /// Clients that have serializable reads (only their lists are scanned).
    let serializableClients: [Int]
    let values: [String]
    let zobrist: [UInt64]
    let n: Int

    // Dancing-links lists; node n (+ client) is a list's sentinel.
    var allNext: [Int32], allPrev: [Int32]
    var retNext: [Int32], retPrev: [Int32]
    var clientRetNext: [Int32], clientRetPrev: [Int32]
    var serialNext: [Int32], serialPrev: [Int32]

    init(key: String, operations unsorted: [Operation], limits: Limits, deadline: ContinuousClock.Instant) {
        self.key = key
        self.limits = limits
        self.deadline = deadline
        let operations = unsorted.sorted { ($0.invokedAt, $0.id) < ($1.invokedAt, $1.id) }
        self.operations = operations
        let n = operations.count
        self.n = n

        var valueIDs: [String: Int32] = [:]
        var values: [String] = []
        func intern(_ value: String?) -> Int32 {
            guard let value else { return -1 }
            if let id = valueIDs[value] { return id }
            let id = Int32(values.count)
            valueIDs[value] = id
            values.append(value)
            return id
        }
        var clientIDs: [Int: Int] = [:]
        var steps: [Step] = [], client: [Int] = [], serializable: [Bool] = []
        for operation in operations {
            let output: Output? = if case .ok(let output) = operation.outcome { output } else { nil }
            switch operation.input {
            case .put(_, let value): steps.append(.put(intern(value)))
            case .get:
                guard case .value(let read)? = output else { preconditionFailure("unknown reads are dropped earlier") }
                steps.append(.get(intern(read)))
            case .delete:
                let count: Int? = if case .deleted(let count)? = output { count } else { nil }
                steps.append(.delete(count))
            case .compareAndSet(_, let expected, let new):
                let succeeded: Bool? = if case .succeeded(let succeeded)? = output { succeeded } else { nil }
                steps.append(.compareAndSet(expected: intern(expected), new: intern(new), succeeded: succeeded))
            }
            if clientIDs[operation.client] == nil { clientIDs[operation.client] = clientIDs.count }
            client.append(clientIDs[operation.client]!)
            serializable.append(operation.input == .get(key: key, consistency: .serializable))
        }
        self.steps = steps
        self.values = values
        self.client = client
        self.serializable = serializable
        invoked = operations.map(\.invokedAt)
        returned = operations.map { $0.returnedAt ?? Int.max }
        completed = operations.map { if case .ok = $0.outcome { true } else { false } }
        serializableClients = Array(Set(zip(client, serializable).filter(\.1).map(\.0))).sorted()
        var seed: UInt64 = 0x5EED_1234_ABCD_0001
        zobrist = (0..<n).map { _ in splitMix64(&seed) }

        // Build the lists.
        let clientCount = clientIDs.count
        func link(_ order: [Int], sentinel: Int, _ next: inout [Int32], _ prev: inout [Int32]) {
            var last = sentinel
            for node in order {
                next[last] = Int32(node)
                prev[node] = Int32(last)
                last = node
            }
            next[last] = Int32(sentinel)
            prev[sentinel] = Int32(last)
        }
        let returned = self.returned
        var allNext = [Int32](repeating: 0, count: n + 1), allPrev = allNext
        link(Array(0..<n), sentinel: n, &allNext, &allPrev)
        var retNext = [Int32](repeating: 0, count: n + 1), retPrev = retNext
        let byReturn = (0..<n).sorted { (returned[$0], $0) < (returned[$1], $1) }
        link(byReturn, sentinel: n, &retNext, &retPrev)
        var clientRetNext = [Int32](repeating: 0, count: n + clientCount), clientRetPrev = clientRetNext
        var serialNext = clientRetNext, serialPrev = clientRetNext
        for c in 0..<clientCount {
            link(byReturn.filter { client[$0] == c }, sentinel: n + c, &clientRetNext, &clientRetPrev)
            link((0..<n).filter { client[$0] == c && serializable[$0] }, sentinel: n + c, &serialNext, &serialPrev)
        }
        (self.allNext, self.allPrev, self.retNext, self.retPrev) = (allNext, allPrev, retNext, retPrev)
        (self.clientRetNext, self.clientRetPrev) = (clientRetNext, clientRetPrev)
        (self.serialNext, self.serialPrev) = (serialNext, serialPrev)
    }

    // MARK: lists

    @inline(__always) private static func remove(_ x: Int, _ next: inout [Int32], _ prev: inout [Int32]) {
        let before = Int(prev[x]), after = Int(next[x])
        next[before] = Int32(after)
        prev[after] = Int32(before)
    }

    @inline(__always) private static func restore(_ x: Int, _ next: inout [Int32], _ prev: inout [Int32]) {
        next[Int(prev[x])] = Int32(x)
        prev[Int(next[x])] = Int32(x)
    }

    private mutating func lift(_ x: Int) {
        Self.remove(x, &allNext, &allPrev)
        Self.remove(x, &retNext, &retPrev)
        Self.remove(x, &clientRetNext, &clientRetPrev)
        if serializable[x] { Self.remove(x, &serialNext, &serialPrev) }
    }

    private mutating func unlift(_ x: Int) {
        if serializable[x] { Self.restore(x, &serialNext, &serialPrev) }
        Self.restore(x, &clientRetNext, &clientRetPrev)
        Self.restore(x, &retNext, &retPrev)
        Self.restore(x, &allNext, &allPrev)
    }

    /// The earliest return among unplaced operations (all of them, or client c's).
    @inline(__always) private func earliestReturn() -> Int {
        let head = Int(retNext[n])
        return head == n ? Int.max : returned[head]
    }

    @inline(__always) private func earliestReturn(client c: Int) -> Int {
        let head = Int(clientRetNext[n + c])
        return head == n + c ? Int.max : returned[head]
    }

    /// Phase 0 walks all unplaced operations by invocation up to the earliest return; phase p ≥ 1
    /// walks the serializable reads of serializableClients[p - 1] invoked after it (earlier ones were
    /// phase 0's) up to that client's earliest return.
    private func candidate(phase startPhase: Int, node startNode: Int) -> (phase: Int, node: Int)? {
        var phase = startPhase, node = startNode
        let horizon = earliestReturn()
        while true {
            if phase == 0 {
                if node != n && invoked[node] <= horizon { return (0, node) }
                phase = 1
                guard !serializableClients.isEmpty else { return nil }
                node = Int(serialNext[n + serializableClients[0]])
                continue
            }
            guard phase <= serializableClients.count else { return nil }
            let c = serializableClients[phase - 1]
            if node != n + c && invoked[node] <= horizon {
                node = Int(serialNext[node])
                continue
            }
            if node != n + c && invoked[node] <= earliestReturn(client: c) { return (phase, node) }
            phase += 1
            if phase <= serializableClients.count { node = Int(serialNext[n + serializableClients[phase - 1]]) }
        }
    }

    @inline(__always) private func after(_ node: Int, phase: Int) -> Int {
        phase == 0 ? Int(allNext[node]) : Int(serialNext[node])
    }

    // MARK: search

    mutating func run() -> CheckResult {
        let words = (n + 63) / 64
        var cache = StateCache(words: words)
        var bits = [UInt64](repeating: 0, count: words)
        var hash: UInt64 = 0
        var value: Int32 = -1
        var remaining = completed.filter { $0 }.count
        let total = remaining
        var stack: [Frame] = []
        stack.reserveCapacity(n)
        var cursor = (phase: 0, node: Int(allNext[n]))
        var taken = 0
        var best: Violation?
        var bestPlaced = -1

        while true {
            if remaining == 0 { return .linearizable }
            if let (phase, x) = candidate(phase: cursor.phase, node: cursor.node) {
                taken += 1
                if taken > limits.maxStepsPerKey {
                    return .inconclusive("key \(quoted(key)): step limit \(limits.maxStepsPerKey) reached (\(n) operations)")
                }
                if taken & 0x3FFF == 0 && ContinuousClock.now > deadline {
                    return .inconclusive("time budget \(limits.timeBudget) spent (at key \(quoted(key)), \(n) operations)")
                }
                if let next = steps[x].apply(value) {
                    bits[x >> 6] |= 1 << UInt64(x & 63)
                    hash ^= zobrist[x]
                    if cache.insert(bits, next, hash: hash ^ mix(next)) {
                        if cache.bytes > limits.maxCacheBytesPerKey {
                            return .inconclusive("key \(quoted(key)): cache limit \(limits.maxCacheBytesPerKey) bytes reached (\(n) operations)")
                        }
                        stack.append(Frame(operation: Int32(x), phase: Int32(phase), valueBefore: value))
                        value = next
                        lift(x)
                        if completed[x] { remaining -= 1 }
                        cursor = (0, Int(allNext[n]))
                        continue
                    }
                    bits[x >> 6] &= ~(1 << UInt64(x & 63))
                    hash ^= zobrist[x]
                }
                cursor = (phase, after(x, phase: phase))
            } else {
                // Dead end: remember the deepest one for the report, then undo the last placement.
                if total - remaining > bestPlaced {
                    bestPlaced = total - remaining
                    best = explain(stack: stack, value: value)
                }
                guard let top = stack.popLast() else { return .notLinearizable(best!) }
                let x = Int(top.operation)
                unlift(x)
                bits[x >> 6] &= ~(1 << UInt64(x & 63))
                hash ^= zobrist[x]
                value = top.valueBefore
                if completed[x] { remaining += 1 }
                cursor = (Int(top.phase), after(x, phase: Int(top.phase)))
            }
        }
    }

    private func name(_ value: Int32) -> String? {
        value < 0 ? nil : values[Int(value)]
    }

    private func explain(stack: [Frame], value: Int32) -> Violation {
        var stuck: [Violation.Stuck] = []
        var cursor: (phase: Int, node: Int)? = (0, Int(allNext[n]))
        while let (phase, x) = cursor.flatMap({ candidate(phase: $0.phase, node: $0.node) }) {
            let reason: String
            if steps[x].apply(value) != nil {
                reason = "fits, but no valid order continues from there"
            } else {
                switch steps[x] {
                case .get: reason = "the value was \(quoted(name(value)))"
                case .delete: reason = value < 0 ? "the key was absent" : "the key existed"
                case .compareAndSet(let expected, _, _):
                    reason = value == expected ? "the value was the expected one" : "the value was \(quoted(name(value)))"
                case .put: reason = "?"  // a put always fits
                }
            }
            stuck.append(.init(operation: operations[x], reason: reason))
            cursor = (phase, after(x, phase: phase))
        }
        let prefix = stack.map { operations[Int($0.operation)] }
        return Violation(
            key: key, operations: operations, longestPrefix: prefix, valueAfterPrefix: name(value), stuck: stuck,
            summary: "No order of the operations explains every answer.")
    }
}

@inline(__always) private func mix(_ value: Int32) -> UInt64 {
    (UInt64(bitPattern: Int64(value)) &+ 1) &* 0x9E37_79B9_7F4A_7C15
}

func splitMix64(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// An open-addressing set of (placed-operations bitset, value) pairs, stored flat to keep memory
/// per entry at (words + 1) × 8 + 12 bytes.
struct StateCache {
    let stride: Int
    var keys: [UInt64] = []
    var hashes: [UInt64] = []
    var slots = [Int32](repeating: -1, count: 1024)
    var count = 0

    init(words: Int) {
        stride = words + 1
    }

    var bytes: Int { keys.capacity * 8 + hashes.capacity * 8 + slots.count * 4 }

    /// Inserts; false when the pair was already there.
    mutating func insert(_ bits: [UInt64], _ value: Int32, hash: UInt64) -> Bool {
        if (count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash >> 7) & mask
        let tag = UInt64(bitPattern: Int64(value))
        while true {
            let entry = Int(slots[slot])
            if entry < 0 {
                slots[slot] = Int32(count)
                hashes.append(hash)
                keys.append(contentsOf: bits)
                keys.append(tag)
                count += 1
                return true
            }
            if hashes[entry] == hash && matches(entry, bits, tag) { return false }
            slot = (slot + 1) & mask
        }
    }

    private func matches(_ entry: Int, _ bits: [UInt64], _ tag: UInt64) -> Bool {
        let base = entry * stride
        if keys[base + stride - 1] != tag { return false }
        for i in 0..<bits.count where keys[base + i] != bits[i] { return false }
        return true
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for entry in 0..<count {
            var slot = Int(truncatingIfNeeded: hashes[entry] >> 7) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(entry)
        }
    }
}
