import Backend
import Dispatch
import Foundation
import Synchronization
import Testing
@testable import EtcdServer

/// The backend's upkeep thread: a snapshot's sync out of turn, answered on the flusher's thread.
@Suite struct BackendFlusherTests {
    @Test func syncSoonIsAnsweredWithoutWaitingForTheInterval() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keel-flusher-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let backend = try Backend(config: BackendConfig(directory: dir, quotaBytes: 64 << 20))
        // An hour between rounds: only the request can start one.
        let flusher = BackendFlusher(backend: backend, interval: 3600)
        flusher.start()
        let answers = Mutex<[Bool]>([])
        let answered = DispatchSemaphore(value: 0)
        for _ in 0..<3 {
            flusher.syncSoon { ok in
                answers.withLock { $0.append(ok) }
                answered.signal()
            }
        }
        for _ in 0..<3 { #expect(answered.wait(timeout: .now() + 30) == .success, "a sync asked for is answered") }
        #expect(answers.withLock { $0 } == [true, true, true])

        flusher.stop()
        // Once stopped, a request is refused at once rather than left unanswered.
        flusher.syncSoon { ok in
            answers.withLock { $0.append(ok) }
            answered.signal()
        }
        #expect(answered.wait(timeout: .now() + 30) == .success)
        #expect(answers.withLock { $0 } == [true, true, true, false])
        backend.close()
    }
}
