import Backend
import Dispatch
import Foundation
import Synchronization

/// Backend upkeep on its own thread, once per interval: syncs LMDB (commits are MDB_NOSYNC: the WAL,
/// fsynced first, is what makes a write durable; this bounds how much of the WAL a restart replays),
/// then lets go of the data file's pages mapped into the process (`Backend.releaseMappedPages`).
///
/// It ran on the apply thread, holding up every apply behind an fsync of the data file once a second
/// (and never ran while a lone client's entries were applied inline). A snapshot asks for a sync out of
/// turn (`syncSoon`), so the Raft loop does not wait on that fsync either.
final class BackendFlusher: Sendable {
    private struct State {
        var stopping = false
        var waiting: [@Sendable (Bool) -> Void] = []
    }

    private let backend: Backend
    private let interval: TimeInterval
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)

    init(backend: Backend, interval: TimeInterval) {
        precondition(interval > 0)
        self.backend = backend
        self.interval = interval
    }

    func start() {
        let t = Thread { [self] in
            while true {
                _ = wake.wait(timeout: .now() + interval)
                // Callers registered before this sync starts are covered by it; later ones wait for the next.
                let (stopping, waiting) = state.withLock { s in
                    defer { s.waiting.removeAll() }
                    return (s.stopping, s.waiting)
                }
                if stopping {
                    for done in waiting { done(false) }
                    break
                }
                let synced = (try? backend.sync()) != nil
                for done in waiting { done(synced) }
                backend.releaseMappedPages()
            }
            stopped.signal()
        }
        t.name = "keel-backend-flush"
        t.start()
    }

    /// Syncs the backend now rather than at the next interval; `done` runs on the flusher's thread once
    /// every commit made before this call is on disk (true), or the sync failed or the flusher stopped.
    func syncSoon(then done: @escaping @Sendable (Bool) -> Void) {
        let accepted = state.withLock { s -> Bool in
            guard !s.stopping else { return false }
            s.waiting.append(done)
            return true
        }
        guard accepted else { return done(false) }
        wake.signal()
    }

    /// Returns once the thread has finished its last round; the backend may be closed after.
    func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
        stopped.wait()
    }
}
