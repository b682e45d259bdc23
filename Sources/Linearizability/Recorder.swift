// A thread-safe history recorder for test clients: call `invoke` right before sending a request and
// `returned` / `failed` / `timedOut` right after its answer (or its absence) is known.
import Synchronization

/// A handle on an invoked operation; finish it exactly once.
public struct PendingOperation: Sendable, Hashable {
    public let id: Int
}

@available(macOS 15.0, *)
public final class HistoryRecorder: Sendable {
    private struct State {
        var operations: [Operation] = []
        var finished: [Bool] = []
    }

    private let state = Mutex(State())
    /// Returns the current time; tests may inject a fake clock. Must be monotonic.
    private let clock: @Sendable () -> Int

    /// Timestamps are nanoseconds of `ContinuousClock` (monotonic) since the recorder was made.
    public init() {
        let origin = ContinuousClock.now
        clock = {
            let elapsed = ContinuousClock.now - origin
            return Int(elapsed.components.seconds) * 1_000_000_000
                + Int(elapsed.components.attoseconds / 1_000_000_000)
        }
    }

    public init(clock: @escaping @Sendable () -> Int) {
        self.clock = clock
    }

    public func invoke(client: Int, _ input: Input) -> PendingOperation {
        state.withLock { state in
            // Read the clock under the lock so ids follow invocation order.
            let id = state.operations.count
            state.finished.append(false)
            state.operations.append(Operation(
                id: id, client: client, input: input, invokedAt: clock(), returnedAt: nil, outcome: .unknown))
            return PendingOperation(id: id)
        }
    }

    public func returned(_ pending: PendingOperation, _ output: Output) {
        finish(pending, .ok(output))
    }

    /// The server guarantees it did not apply the request (e.g. a validation error); the checker ignores it.
    public func failed(_ pending: PendingOperation) {
        finish(pending, .failed)
    }

    /// No answer, or one that does not say whether it was applied: it may happen at any time later, or never.
    public func timedOut(_ pending: PendingOperation) {
        finish(pending, .unknown)
    }

    /// Operations still pending count as unknown.
    public func history() -> History {
        state.withLock { History($0.operations) }
    }

    private func finish(_ pending: PendingOperation, _ outcome: Outcome) {
        state.withLock { state in
            precondition(!state.finished[pending.id], "operation \(pending.id) finished twice")
            state.finished[pending.id] = true
            // An unknown outcome keeps returnedAt nil: it may take effect after the client gave up.
            if case .ok = outcome { state.operations[pending.id].returnedAt = clock() }
            state.operations[pending.id].outcome = outcome
        }
    }
}
