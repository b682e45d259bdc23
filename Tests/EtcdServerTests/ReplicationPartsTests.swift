import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import EtcdServer

/// The small pieces of the replicated write path, alone: request ids, waiters, ReadIndex batching and
/// the Raft loop's timed inbox.
@Suite struct ReplicationPartsTests {
    @Test func requestIDsCarryTheMemberAndNeverCollide() {
        let a = RequestIDGenerator(memberID: 0x1234_5678_9abc_def0)
        let b = RequestIDGenerator(memberID: 0x0fed_cba9_8765_def1)
        var seen = Set<UInt64>()
        for _ in 0..<100_000 {
            let x = a.next(), y = b.next()
            #expect(x >> 48 == 0xdef0 && y >> 48 == 0xdef1, "the member's low 16 bits lead every id")
            #expect(seen.insert(x).inserted && seen.insert(y).inserted)
        }
        // A restart a second later starts past everything issued before (time in ms, shifted by 8).
        let restarted = RequestIDGenerator(memberID: 0x1234_5678_9abc_def0, now: Date().addingTimeInterval(1))
        #expect(!seen.contains(restarted.next()))
        // 65,536 requests never reach the member bits (the old scheme overflowed into them).
        let c = RequestIDGenerator(memberID: 7)
        var last: UInt64 = 0
        for _ in 0..<70_000 { last = c.next() }
        #expect(last >> 48 == 7)
    }

    @Test func waitersCompleteOnceAndExpire() {
        let waiters = Waiters<Int>()
        let results = Mutex([UInt64: Int]())
        let now = NIODeadline.now()
        #expect(waiters.register(1, deadline: now + .seconds(60), limit: 2) { r in results.withLock { $0[1] = r } })
        #expect(waiters.register(2, deadline: now - .seconds(1), limit: 2) { r in results.withLock { $0[2] = r } })
        #expect(!waiters.register(3, deadline: now, limit: 2) { _ in }, "the bound holds")
        waiters.expire(now: now, with: -1)
        waiters.complete(1, 42)
        waiters.complete(1, 43)  // a second completion (another member's duplicate) is ignored
        #expect(results.withLock { $0 } == [1: 42, 2: -1])
        #expect(waiters.count == 0)
    }

    /// A batch completes each waiter on the event loop it registered with (in log order per loop), and a
    /// waiter without a loop on the completing thread.
    @Test func completeAllRunsEachCallbackOnItsLoopInOrder() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let a = group.next(), b = group.next()
        #expect(a !== b)
        let waiters = Waiters<Int>()
        let seen = Mutex([(id: UInt64, result: Int, onA: Bool, onB: Bool)]())
        let done = DispatchSemaphore(value: 0)
        let far = NIODeadline.now() + .seconds(60)
        for (id, loop) in [(1, a), (2, b), (3, a), (4, nil), (5, b), (6, a)] as [(UInt64, EventLoop?)] {
            #expect(waiters.register(id, deadline: far, limit: 16, on: loop) { r in
                seen.withLock { $0.append((id, r, a.inEventLoop, b.inEventLoop)) }
                done.signal()
            })
        }
        waiters.completeAll([(1, 10), (2, 20), (3, 30), (4, 40), (5, 50), (6, 60), (7, 70)])
        for _ in 0..<6 { #expect(done.wait(timeout: .now() + 10) == .success) }
        let calls = seen.withLock { $0 }
        #expect(calls.count == 6, "7 had no waiter")
        #expect(calls.filter(\.onA).map(\.id) == [1, 3, 6])
        #expect(calls.filter(\.onB).map(\.id) == [2, 5])
        #expect(calls.filter { !$0.onA && !$0.onB }.map(\.id) == [4])
        #expect(calls.allSatisfy { Int($0.id) * 10 == $0.result })
        #expect(waiters.count == 0)
    }

    /// The Raft loop reads an entry's request field from its first bytes to keep compactions off its own
    /// thread: every field an entry can carry, with a caller or not, and what is not an entry.
    @Test func requestFieldIsReadFromTheEntrysFirstBytes() {
        let body: [UInt8] = [0x0a, 0x03, 0x61, 0x62, 0x63]
        for field in [InternalRequestCodec.Field.put, .compaction, .txn, .deleteRange, .userAdd] {
            let plain = body.withUnsafeBytes { InternalRequestCodec.encode(id: 300, field: field, request: $0) }
            let withCaller = body.withUnsafeBytes { InternalRequestCodec.encode(id: 1 << 40, field: field, request: $0, caller: .anonymous) }
            #expect(InternalRequestCodec.requestField(plain) == field.rawValue)
            #expect(InternalRequestCodec.requestField(withCaller) == field.rawValue)
        }
        #expect(InternalRequestCodec.requestField([]) == nil, "a new leader's empty entry")
        #expect(InternalRequestCodec.requestField([0x08]) == nil, "cut inside the id")
        #expect(InternalRequestCodec.requestField([0x10, 0x01]) == nil, "not an id first")
    }

    @Test func readsWaitForTheConfirmedIndexToBeApplied() {
        let batcher = ReadIndexBatcher(maxPending: 8)
        let served = Mutex([String]())
        func read(_ name: String) -> ReadIndexBatcher.Read {
            { error in served.withLock { $0.append(error == nil ? name : "\(name):\(error!.status.message)") } }
        }
        let far = NIODeadline.now() + .seconds(60)
        #expect(batcher.add(deadline: far, read("a")) == (true, true))
        #expect(batcher.add(deadline: far, read("b")) == (true, false))
        let round1 = try! #require(batcher.startRound(now: .now()))
        #expect(batcher.add(deadline: far, read("c")).accepted)
        let round2 = try! #require(batcher.startRound(now: .now()))
        batcher.confirmed(round2, index: 20, applied: 5)
        batcher.confirmed(round1, index: 10, applied: 5)
        #expect(served.withLock { $0 }.isEmpty, "nothing is served before the apply catches up")
        batcher.applied(12)
        #expect(served.withLock { $0 } == ["a", "b"])
        batcher.applied(20)
        #expect(served.withLock { $0 } == ["a", "b", "c"])
        // Confirmed at or below what is applied: served at once.
        _ = batcher.add(deadline: far, read("d"))
        batcher.confirmed(try! #require(batcher.startRound(now: .now())), index: 3, applied: 20)
        #expect(served.withLock { $0 }.last == "d")
    }

    @Test func unansweredRoundsAreRetriedAndLateReadsTimeOut() {
        let batcher = ReadIndexBatcher()
        let served = Mutex([String]())
        let start = NIODeadline.now()
        _ = batcher.add(deadline: start + .seconds(10)) { e in served.withLock { $0.append(e == nil ? "ok" : e!.status.message) } }
        _ = batcher.add(deadline: start + .milliseconds(10)) { e in served.withLock { $0.append(e == nil ? "ok" : e!.status.message) } }
        let lost = try! #require(batcher.startRound(now: start))
        // The answer to `lost` never comes (leader changed): after retryAfter both reads wait again,
        // and the one past its deadline fails.
        #expect(batcher.sweep(now: start + .seconds(1), retryAfter: .milliseconds(500), timeout: .timeout))
        #expect(served.withLock { $0 } == ["etcdserver: request timed out"])
        batcher.confirmed(lost, index: 1, applied: 1)  // a late answer to the abandoned round changes nothing
        #expect(served.withLock { $0 }.count == 1)
        let retry = try! #require(batcher.startRound(now: start + .seconds(1)))
        batcher.confirmed(retry, index: 1, applied: 1)
        #expect(served.withLock { $0 } == ["etcdserver: request timed out", "ok"])
    }

    @Test func timedTakeReturnsOnTimeOrOnInput() {
        let queue = SignalQueue<Int>(capacity: 4)
        var batch: [Int] = []
        let t0 = NIODeadline.now()
        #expect(queue.take(max: 4, into: &batch, timeout: .milliseconds(30)))
        #expect(batch.isEmpty && NIODeadline.now() - t0 >= .milliseconds(25))
        #expect(queue.tryPush(1))
        #expect(queue.take(max: 4, into: &batch, timeout: .seconds(5)) && batch == [1])
        batch.removeAll()
        queue.close()
        #expect(!queue.take(max: 4, into: &batch, timeout: .seconds(5)), "closed and drained")
    }
}
