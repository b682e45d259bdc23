import MVCC
import NIOCore
import Testing
@testable import EtcdServer

/// The lease clock, on an explicit clock: only the leader expires, renewals move a lease later and are
/// reported as checkpoints, a new leader continues the old one's schedule (extended by at most the
/// grace), revocations are rate-limited and retried, and the pending set stays bounded.
@Suite struct LeaseScheduleTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    func at(_ ms: Int64) -> NIODeadline { t0 + .milliseconds(ms) }
    func schedule(grace: Int64 = 1000) -> LeaseSchedule {
        LeaseSchedule(settings: .init(promotionGrace: .milliseconds(grace)))
    }

    @Test func onlyTheLeaderExpiresAndExactlyOnTime() {
        let s = schedule()
        s.granted(1, ttl: 2, now: at(0))
        #expect(s.tick(leading: false, now: at(5000)).revoke.isEmpty)   // a follower never revokes
        let fresh = schedule()
        fresh.granted(1, ttl: 2, now: at(0))
        #expect(fresh.tick(leading: true, now: at(0)).revoke.isEmpty)
        #expect(fresh.tick(leading: true, now: at(1999)).revoke.isEmpty)
        #expect(fresh.tick(leading: true, now: at(2000)).revoke == [1])
        // Not proposed again while the revocation is in flight, then retried.
        #expect(fresh.tick(leading: true, now: at(2100)).revoke.isEmpty)
        #expect(fresh.tick(leading: true, now: at(5000)).revoke == [1])
        fresh.revoked(1)
        #expect(fresh.tick(leading: true, now: at(9000)).revoke.isEmpty)
    }

    @Test func renewalsMoveTheDeadlineAndAreCheckpointed() {
        let s = schedule()
        s.granted(7, ttl: 3, now: at(0))
        _ = s.tick(leading: true, now: at(0))
        #expect(s.renew(7, now: at(2500)) == .renewed(ttl: 3))
        #expect(s.renew(8, now: at(2500)) == .notFound)
        let work = s.tick(leading: true, now: at(2600))
        #expect(work.checkpoints == [[LeaseCheckpoint(id: 7, remainingTTL: 3)]])  // 2.9 s left, rounded up
        #expect(s.tick(leading: true, now: at(2700)).checkpoints.isEmpty)     // reported once
        #expect(s.tick(leading: true, now: at(5499)).revoke.isEmpty)
        #expect(s.tick(leading: true, now: at(5500)).revoke == [7])
        // Past its deadline a lease cannot be renewed (its revocation is on its way): etcd's TTL 0.
        #expect(s.renew(7, now: at(5600)) == .notFound)
    }

    @Test func aNewLeaderContinuesTheOldClock() {
        let follower = schedule(grace: 1000)
        follower.granted(1, ttl: 10, now: at(0))   // continues: 10 s from the grant
        follower.granted(2, ttl: 10, now: at(0))   // renewed by the old leader at 6 s
        follower.granted(3, ttl: 6, now: at(0))    // ran out during the election (at 6 s)
        follower.granted(4, ttl: 3, now: at(0))    // ran out long before: no grace beyond its own deadline + 1 s
        _ = follower.tick(leading: false, now: at(100))
        follower.checkpointed([LeaseCheckpoint(id: 2, remainingTTL: 10)], now: at(6000))
        // Leading from 6.5 s; the follower's clocks: 1 → 10 s, 2 → 16 s, 3 → 6 s, 4 → 3 s.
        let work = follower.tick(leading: true, now: at(6500))
        #expect(work.revoke == [4])
        #expect(work.checkpoints.flatMap { $0 } == [LeaseCheckpoint(id: 3, remainingTTL: 1)])
        #expect(follower.tick(leading: true, now: at(6999)).revoke.isEmpty)
        #expect(follower.tick(leading: true, now: at(7000)).revoke == [3])    // its deadline + the 1 s grace
        follower.revoked(4)
        follower.revoked(3)
        #expect(follower.tick(leading: true, now: at(9999)).revoke.isEmpty)
        #expect(follower.tick(leading: true, now: at(10000)).revoke == [1])   // not reset to 6.5 + 10
        follower.revoked(1)
        #expect(follower.tick(leading: true, now: at(15999)).revoke.isEmpty)
        #expect(follower.tick(leading: true, now: at(16000)).revoke == [2])
    }

    @Test func revocationsAreRateLimited() {
        let s = LeaseSchedule(settings: .init(promotionGrace: .zero, revokesPerSecond: 1000))
        for id in 1...5000 { s.granted(Int64(id), ttl: 1, now: at(0)) }
        _ = s.tick(leading: true, now: at(0))
        var revoked: Set<Int64> = []
        var ticks = 0
        var ms: Int64 = 1000
        while revoked.count < 5000 {
            let work = s.tick(leading: true, now: at(ms))
            #expect(work.revoke.count <= 100, "at most 1000/s, i.e. 100 per 100 ms tick")
            for id in work.revoke { revoked.insert(id); s.revoked(id) }
            ms += 100
            ticks += 1
        }
        #expect(ticks >= 50 && ticks <= 52)
    }

    @Test func renewalsDoNotGrowThePendingSet() {
        let s = schedule()
        s.granted(1, ttl: 60, now: at(0))
        _ = s.tick(leading: true, now: at(0))
        for i in 1...100_000 { _ = s.renew(1, now: at(Int64(i / 1000))) }
        #expect(s.pendingCount == 1)
    }
}
