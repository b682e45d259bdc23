import Backend
import Dispatch
import Foundation

/// Backend upkeep on its own thread, once per interval: syncs LMDB (commits are MDB_NOSYNC: the WAL,
/// fsynced first, is what makes a write durable; this bounds how much of the WAL a restart replays),
/// then lets go of the data file's pages mapped into the process (`Backend.releaseMappedPages`).
///
/// It ran on the apply thread, holding up every apply behind an fsync of the data file once a second
/// (and never ran while a lone client's entries were applied inline on the Raft loop).
final class BackendFlusher: Sendable {
    private let backend: Backend
    private let interval: TimeInterval
    private let stopRequest = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)

    init(backend: Backend, interval: TimeInterval) {
        precondition(interval > 0)
        self.backend = backend
        self.interval = interval
    }

    func start() {
        let t = Thread { [self] in
            while stopRequest.wait(timeout: .now() + interval) == .timedOut {
                try? backend.sync()
                backend.releaseMappedPages()
            }
            stopped.signal()
        }
        t.name = "keel-backend-flush"
        t.start()
    }

    /// Returns once the thread has finished its last round; the backend may be closed after.
    func stop() {
        stopRequest.signal()
        stopped.wait()
    }
}
