import NIOConcurrencyHelpers
import NIOCore

/// Callers waiting for their log entry to be applied, keyed by request id. The applier completes a
/// waiter when it applies the entry carrying its id (on whichever member proposed it); the Raft loop
/// fails waiters whose proposal was dropped, and times out those that waited too long (an entry
/// proposed to a leader that lost its leadership before replicating it is never applied anywhere).
///
/// A waiter registered with an event loop has its callback run on that loop. An applied batch completes
/// its waiters under one lock and with one task per event loop (`completeAll`): one `execute` per Put
/// was a lock and often a wake-up of the loop each, contended between the applier and the loops.
final class Waiters<Result: Sendable>: Sendable {
    typealias Callback = @Sendable (Result) -> Void
    private struct Waiter {
        let deadline: NIODeadline
        let loop: EventLoop?
        let callback: Callback
    }
    private let table = NIOLockedValueBox([UInt64: Waiter]())

    /// Registers `callback` for `id`, to run on `loop` if given (else on the completing thread); false
    /// when `limit` waiters are already outstanding.
    func register(_ id: UInt64, deadline: NIODeadline, limit: Int, on loop: EventLoop? = nil, _ callback: @escaping Callback) -> Bool {
        table.withLockedValue { t in
            guard t.count < limit else { return false }
            precondition(t[id] == nil, "request id \(id) registered twice")
            t[id] = Waiter(deadline: deadline, loop: loop, callback: callback)
            return true
        }
    }

    /// Completes the waiter for `id`, if this member has one.
    func complete(_ id: UInt64, _ result: Result) {
        guard let w = table.withLockedValue({ $0.removeValue(forKey: id) }) else { return }
        Self.run([(w, result)])
    }

    /// Completes the waiters of `completions` (in order; ids without a waiter are skipped): one lock for
    /// all, then one task per event loop running its callbacks in order.
    func completeAll(_ completions: [(id: UInt64, result: Result)]) {
        guard !completions.isEmpty else { return }
        let found: [(Waiter, Result)] = table.withLockedValue { t in
            var found: [(Waiter, Result)] = []
            found.reserveCapacity(completions.count)
            for c in completions {
                if let w = t.removeValue(forKey: c.id) { found.append((w, c.result)) }
            }
            return found
        }
        Self.run(found)
    }

    /// Whether `id` still has a waiter (it was neither completed nor expired).
    func isWaiting(_ id: UInt64) -> Bool { table.withLockedValue { $0[id] != nil } }

    var count: Int { table.withLockedValue { $0.count } }

    /// Fails every waiter whose deadline passed.
    func expire(now: NIODeadline, with result: Result) {
        let expired: [(Waiter, Result)] = table.withLockedValue { t in
            guard !t.isEmpty else { return [] }
            var out: [(Waiter, Result)] = []
            for (id, w) in t where w.deadline <= now {
                out.append((w, result))
                t.removeValue(forKey: id)
            }
            return out
        }
        Self.run(expired)
    }

    /// Fails every waiter (shutdown).
    func failAll(_ result: Result) {
        let all = table.withLockedValue { t in
            defer { t.removeAll() }
            return t.values.map { ($0, result) }
        }
        Self.run(all)
    }

    /// Runs callbacks without a loop here, in order, and the others as one task per loop, in order.
    private static func run(_ done: [(Waiter, Result)]) {
        var byLoop: [(loop: EventLoop, calls: [(Callback, Result)])] = []
        for (w, result) in done {
            guard let loop = w.loop else {
                w.callback(result)
                continue
            }
            if let i = byLoop.firstIndex(where: { $0.loop === loop }) {
                byLoop[i].calls.append((w.callback, result))
            } else {
                byLoop.append((loop, [(w.callback, result)]))
            }
        }
        for group in byLoop {
            let calls = group.calls
            group.loop.execute {
                for (callback, result) in calls { callback(result) }
            }
        }
    }
}
