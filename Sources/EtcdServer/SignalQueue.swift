#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// A bounded FIFO handed between threads with a mutex and condition variable. Taking drains everything
/// queued at once, which is what group commit wants.
final class SignalQueue<Element>: @unchecked Sendable {  // all state under `mutex`
    private var mutex = pthread_mutex_t()
    private var notEmpty = pthread_cond_t()
    private var notFull = pthread_cond_t()
    private var items: [Element] = []
    private var closed = false
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&notEmpty, nil)
        pthread_cond_init(&notFull, nil)
    }

    deinit {
        pthread_cond_destroy(&notFull)
        pthread_cond_destroy(&notEmpty)
        pthread_mutex_destroy(&mutex)
    }

    /// Adds without waiting; false when full or closed (the caller answers "too many requests").
    func tryPush(_ item: Element) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard !closed, items.count < capacity else { return false }
        items.append(item)
        if items.count == 1 { pthread_cond_signal(&notEmpty) }
        return true
    }

    /// Adds, waiting while full (back-pressure between pipeline stages); false once closed.
    func push(_ item: Element) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while !closed && items.count >= capacity { pthread_cond_wait(&notFull, &mutex) }
        guard !closed else { return false }
        items.append(item)
        if items.count == 1 { pthread_cond_signal(&notEmpty) }
        return true
    }

    /// Waits for at least one item and takes up to `max`; nil when closed and drained.
    func take(max: Int, into batch: inout [Element]) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while items.isEmpty && !closed { pthread_cond_wait(&notEmpty, &mutex) }
        if items.isEmpty { return false }
        drain(max: max, into: &batch)
        return true
    }

    /// Like `take`, but waits at most `timeout` for the first item; returns false only once closed and
    /// drained (an empty `batch` after true means the time ran out).
    func take(max: Int, into batch: inout [Element], timeout: TimeAmount) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if items.isEmpty && !closed && timeout.nanoseconds > 0 {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let total = Int64(now.tv_nsec) + timeout.nanoseconds
            var until = timespec(tv_sec: now.tv_sec + Int(total / 1_000_000_000), tv_nsec: Int(total % 1_000_000_000))
            while items.isEmpty && !closed {
                if pthread_cond_timedwait(&notEmpty, &mutex, &until) == ETIMEDOUT { break }
            }
        }
        if items.isEmpty { return !closed }
        drain(max: max, into: &batch)
        return true
    }

    /// Moves up to `max` items into `batch` and wakes blocked pushers. Caller holds the mutex.
    private func drain(max: Int, into batch: inout [Element]) {
        if items.count <= max {
            swap(&batch, &items)
            items.removeAll(keepingCapacity: true)
        } else {
            batch.append(contentsOf: items.prefix(max))
            items.removeFirst(max)
        }
        pthread_cond_broadcast(&notFull)
    }

    /// No more pushes; takers drain what is left, then get false.
    func close() {
        pthread_mutex_lock(&mutex)
        closed = true
        pthread_cond_broadcast(&notEmpty)
        pthread_cond_broadcast(&notFull)
        pthread_mutex_unlock(&mutex)
    }
}
