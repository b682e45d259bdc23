import NIOConcurrencyHelpers
import NIOCore

/// Callers waiting for their log entry to be applied, keyed by request id. The applier completes a
/// waiter when it applies the entry carrying its id (on whichever member proposed it); the Raft loop
/// fails waiters whose proposal was dropped, and times out those that waited too long (an entry
/// proposed to a leader that lost its leadership before replicating it is never applied anywhere).
final class Waiters<Result: Sendable>: Sendable {
    typealias Callback = @Sendable (Result) -> Void
    private struct Waiter {
        let deadline: NIODeadline
        let callback: Callback
    }
    private let table = NIOLockedValueBox([UInt64: Waiter]())

    /// Registers `callback` for `id`; false when `limit` waiters are already outstanding.
    func register(_ id: UInt64, deadline: NIODeadline, limit: Int, _ callback: @escaping Callback) -> Bool {
        table.withLockedValue { t in
            guard t.count < limit else { return false }
            precondition(t[id] == nil, "request id \(id) registered twice")
            t[id] = Waiter(deadline: deadline, callback: callback)
            return true
        }
    }

    /// Completes the waiter for `id`, if this member has one.
    func complete(_ id: UInt64, _ result: Result) {
        guard let w = table.withLockedValue({ $0.removeValue(forKey: id) }) else { return }
        w.callback(result)
    }

    /// Whether `id` still has a waiter (it was neither completed nor expired).
    func isWaiting(_ id: UInt64) -> Bool { table.withLockedValue { $0[id] != nil } }

    var count: Int { table.withLockedValue { $0.count } }

    /// Fails every waiter whose deadline passed.
    func expire(now: NIODeadline, with result: Result) {
        let expired: [Waiter] = table.withLockedValue { t in
            guard !t.isEmpty else { return [] }
            var out: [Waiter] = []
            for (id, w) in t where w.deadline <= now {
                out.append(w)
                t.removeValue(forKey: id)
            }
            return out
        }
        for w in expired { w.callback(result) }
    }

    /// Fails every waiter (shutdown).
    func failAll(_ result: Result) {
        let all = table.withLockedValue { t in
            defer { t.removeAll() }
            return Array(t.values)
        }
        for w in all { w.callback(result) }
    }
}
