// The recorder under concurrent clients, end to end with the checker.
import Synchronization
import Testing
@testable import Linearizability

private final class LockedMap: Sendable {
    let map = Mutex<[String: String]>([:])
}

@Suite struct RecorderTests {
    @Test func recordsOutcomesAndTimes() {
        let recorder = HistoryRecorder()
        let a = recorder.invoke(client: 0, .put(key: "x", value: "1"))
        recorder.returned(a, .done)
        let b = recorder.invoke(client: 1, .put(key: "x", value: "2"))
        recorder.timedOut(b)
        let c = recorder.invoke(client: 2, .get(key: "x"))
        recorder.failed(c)
        _ = recorder.invoke(client: 3, .delete(key: "x"))  // never finished: unknown
        let ops = recorder.history().operations
        #expect(ops.map(\.id) == [0, 1, 2, 3])
        #expect(ops[0].outcome == .ok(.done) && ops[0].returnedAt! >= ops[0].invokedAt)
        #expect(ops[1].outcome == .unknown && ops[1].returnedAt == nil)
        #expect(ops[2].outcome == .failed)
        #expect(ops[3].outcome == .unknown && ops[3].returnedAt == nil)
        #expect(ops[1].invokedAt >= ops[0].returnedAt!)
    }

    /// Clients on several threads use a map behind a lock (a linearizable store): whatever the
    /// interleaving, the recorded history must check as linearizable.
    @Test func concurrentClientsOnALockedMapAreLinearizable() async {
        let recorder = HistoryRecorder()
        let store = LockedMap()
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<4 {
                group.addTask {
                    var rng = SplitMix(seed: UInt64(client))
                    for n in 0..<300 {
                        let key = "k\(rng.int(3))"
                        switch rng.int(4) {
                        case 0:
                            let op = recorder.invoke(client: client, .put(key: key, value: "\(client)-\(n)"))
                            store.map.withLock { $0[key] = "\(client)-\(n)" }
                            recorder.returned(op, .done)
                        case 1:
                            let op = recorder.invoke(client: client, .get(key: key))
                            let value = store.map.withLock { $0[key] }
                            recorder.returned(op, .value(value))
                        case 2:
                            let expected = store.map.withLock { $0[key] }  // read earlier: may be stale by now
                            let op = recorder.invoke(client: client, .compareAndSet(key: key, expected: expected, new: "\(client)-\(n)"))
                            let succeeded = store.map.withLock { map in
                                guard map[key] == expected else { return false }
                                map[key] = "\(client)-\(n)"
                                return true
                            }
                            recorder.returned(op, .succeeded(succeeded))
                        default:
                            let op = recorder.invoke(client: client, .delete(key: key))
                            let count = store.map.withLock { $0.removeValue(forKey: key) == nil ? 0 : 1 }
                            recorder.returned(op, .deleted(count))
                        }
                    }
                }
            }
        }
        let history = recorder.history()
        #expect(history.operations.count == 1200)
        let result = Linearizability.check(history)
        #expect(result == .linearizable, "\(result)")
    }
}
