import Dispatch
import NIOCore
import Synchronization

/// A bounded FIFO from any number of producer threads to one consumer thread (the Raft loop, the
/// apply thread). Taking drains everything queued at once, which is what group commit wants.
///
/// The state lives in a `Mutex`; a sleeping side is woken through a semaphore *after* the lock is
/// released, so the woken thread never wakes only to block on the lock its waker still holds (with a
/// condition variable signalled under the mutex, a lone client's Put paid that second futex round
/// trip on every hand-off to the Raft loop).
final class SignalQueue<Element: Sendable>: Sendable {
    private struct State: ~Copyable {
        var items: [Element] = []
        var closed = false
        /// The consumer is asleep (or about to sleep) on `notEmpty` and must be signalled once.
        var takerWaiting = false
        /// Producers asleep (or about to sleep) on `notFull`, each to be signalled once.
        var pushersWaiting = 0
    }

    private let state = Mutex(State())
    private let notEmpty = DispatchSemaphore(value: 0)
    private let notFull = DispatchSemaphore(value: 0)
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Adds without waiting; false when full or closed (the caller answers "too many requests").
    func tryPush(_ item: Element) -> Bool {
        let (pushed, wake) = state.withLock { s -> (Bool, Bool) in
            guard !s.closed, s.items.count < capacity else { return (false, false) }
            s.items.append(item)
            defer { s.takerWaiting = false }
            return (true, s.takerWaiting)
        }
        if wake { notEmpty.signal() }
        return pushed
    }

    /// Adds, waiting while full (back-pressure between pipeline stages); false once closed.
    func push(_ item: Element) -> Bool {
        while true {
            let outcome = state.withLock { s -> PushOutcome in
                if s.closed { return .closed }
                if s.items.count >= capacity {
                    s.pushersWaiting += 1
                    return .full
                }
                s.items.append(item)
                defer { s.takerWaiting = false }
                return s.takerWaiting ? .pushedWakingTaker : .pushed
            }
            switch outcome {
            case .closed: return false
            case .full: notFull.wait()
            case .pushed: return true
            case .pushedWakingTaker:
                notEmpty.signal()
                return true
            }
        }
    }
    private enum PushOutcome { case closed, full, pushed, pushedWakingTaker }

    /// Waits for at least one item and takes up to `max`; false when closed and drained.
    func take(max: Int, into batch: inout [Element]) -> Bool {
        take(max: max, into: &batch, deadline: nil)
    }

    /// Like `take`, but waits at most `timeout` for the first item; returns false only once closed and
    /// drained (an empty `batch` after true means the time ran out).
    func take(max: Int, into batch: inout [Element], timeout: TimeAmount) -> Bool {
        take(max: max, into: &batch, deadline: timeout.nanoseconds > 0 ? .now() + .nanoseconds(Int(timeout.nanoseconds)) : .now())
    }

    private func take(max: Int, into batch: inout [Element], deadline: DispatchTime?) -> Bool {
        precondition(max > 0)
        while true {
            let (outcome, pushers) = state.withLock { s -> (TakeOutcome, Int) in
                if !s.items.isEmpty {
                    Self.drain(&s.items, max: max, into: &batch)
                    defer { s.pushersWaiting = 0 }
                    return (.took, s.pushersWaiting)
                }
                if s.closed { return (.closed, 0) }
                if let deadline, deadline <= .now() { return (.timedOut, 0) }
                s.takerWaiting = true
                return (.sleep, 0)
            }
            for _ in 0..<pushers { notFull.signal() }
            switch outcome {
            case .took, .timedOut: return true
            case .closed: return false
            case .sleep:
                guard let deadline else {
                    notEmpty.wait()
                    continue
                }
                if notEmpty.wait(timeout: deadline) == .timedOut {
                    // A producer that cleared `takerWaiting` first owes a signal: take it, so the
                    // semaphore's count stays exact and the next sleep is not cut short.
                    let owed = state.withLock { s -> Bool in
                        defer { s.takerWaiting = false }
                        return !s.takerWaiting
                    }
                    if owed { notEmpty.wait() }
                }
            }
        }
    }
    private enum TakeOutcome { case took, closed, timedOut, sleep }

    /// Moves up to `max` items into `batch` (the whole array when it fits, without copying).
    private static func drain(_ items: inout [Element], max: Int, into batch: inout [Element]) {
        if items.count <= max {
            if batch.isEmpty {
                swap(&batch, &items)
            } else {
                batch.append(contentsOf: items)
                items.removeAll(keepingCapacity: true)
            }
        } else {
            batch.append(contentsOf: items.prefix(max))
            items.removeFirst(max)
        }
    }

    /// No more pushes; the taker drains what is left, then gets false.
    func close() {
        let (taker, pushers) = state.withLock { s -> (Bool, Int) in
            s.closed = true
            defer {
                s.takerWaiting = false
                s.pushersWaiting = 0
            }
            return (s.takerWaiting, s.pushersWaiting)
        }
        if taker { notEmpty.signal() }
        for _ in 0..<pushers { notFull.signal() }
    }
}
