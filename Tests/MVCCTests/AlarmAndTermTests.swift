import Testing
@testable import Backend
@testable import MVCC

@Suite struct AlarmAndTermTests {
    @Test func alarmKeysAreEtcdsAlarmMemberProtobuf() {
        let m = AlarmMember(memberID: 5, alarm: .noSpace)
        #expect(m.storageKey == [0x08, 0x05, 0x10, 0x01])
        #expect(AlarmMember(memberID: 0, alarm: .corrupt).storageKey == [0x10, 0x02])
        for member in [m, AlarmMember(memberID: .max, alarm: .corrupt), AlarmMember(memberID: 300, alarm: .noSpace)] {
            let parsed = member.storageKey.withUnsafeBytes { AlarmMember(storageKey: $0) }
            #expect(parsed == member)
        }
        #expect([UInt8]([0x08]).withUnsafeBytes { AlarmMember(storageKey: $0) } == nil)
    }

    @Test func alarmsSurviveReopen() throws {
        let h = try Harness()
        h.backend.raiseNoSpaceAlarm()
        #expect(try h.backend.activateAlarm(AlarmMember(memberID: 5, alarm: .corrupt)))
        #expect(try !h.backend.activateAlarm(AlarmMember(memberID: 5, alarm: .corrupt)))
        #expect(try !h.backend.activateAlarm(AlarmMember(memberID: 5, alarm: .none)))
        try h.reopen()
        #expect(h.backend.isNoSpaceAlarmRaised)
        #expect(h.backend.alarms == [AlarmMember(memberID: 0, alarm: .noSpace), AlarmMember(memberID: 5, alarm: .corrupt)])
        #expect(h.backend.alarms(of: .corrupt) == [AlarmMember(memberID: 5, alarm: .corrupt)])
        #expect(h.put("a", "1").error == .noSpace)

        #expect(h.backend.clearNoSpaceAlarm())
        try h.reopen()
        #expect(!h.backend.isNoSpaceAlarmRaised && h.backend.alarms == [AlarmMember(memberID: 5, alarm: .corrupt)])
        #expect(h.put("a", "1").error == nil)
        #expect(try h.backend.deactivateAlarm(AlarmMember(memberID: 5, alarm: .corrupt)))
        #expect(try !h.backend.deactivateAlarm(AlarmMember(memberID: 5, alarm: .corrupt)))
        try h.reopen()
        #expect(h.backend.alarms.isEmpty)
    }

    /// Under Raft the quota is an admission check at proposal time; apply never raises NOSPACE by itself
    /// (members' backend sizes differ, their applied state must not), it only honours an active alarm.
    @Test func applyHonoursTheAlarmButNeverRaisesItFromTheQuota() throws {
        let h = try Harness(quota: 256 * 1024)
        var i = 0
        while !h.store.exceedsQuota(cost: PutRequest(key: b("k\(i)"), value: [UInt8](repeating: 1, count: 8 * 1024)).putCost) && i < 100 {
            #expect(h.apply(.put(PutRequest(key: b("k\(i)"), value: [UInt8](repeating: 1, count: 8 * 1024)))).error == nil)
            i += 1
        }
        #expect(i > 0 && i < 100, "the quota is reached within 100 puts")
        #expect(h.put("over", "the quota").error == nil, "apply does not second-guess an admitted write")
        #expect(!h.backend.isNoSpaceAlarmRaised)
        h.backend.raiseNoSpaceAlarm()
        try h.reopen()
        #expect(h.backend.isNoSpaceAlarmRaised && h.put("small", "x").error == .noSpace)
        #expect(h.backend.clearNoSpaceAlarm())
        try h.reopen()
        #expect(!h.backend.isNoSpaceAlarmRaised)
    }

    @Test func termIsStoredWithTheConsistentIndex() throws {
        let h = try Harness()
        #expect(h.store.consistentTerm == 0)
        _ = h.store.applyBatch([(1, .put(PutRequest(key: b("a"), value: b("1")))), (2, .noop)], term: 2)
        #expect(h.store.consistentIndex == 2 && h.store.consistentTerm == 2)
        // The old signature leaves the term alone.
        _ = h.store.applyBatch([(3, .noop)])
        #expect(h.store.consistentIndex == 3 && h.store.consistentTerm == 2)
        // A replayed (skipped) batch stores nothing.
        _ = h.store.applyBatch([(3, .noop)], term: 9)
        #expect(h.store.consistentTerm == 2)
        // A compaction in the middle splits the batch; the term lands with the last entry.
        _ = h.store.applyBatch([(4, .put(PutRequest(key: b("b"), value: b("2")))),
                                (5, .compact(CompactionRequest(revision: 2))),
                                (6, .noop)], term: 4)
        #expect(h.store.consistentIndex == 6 && h.store.consistentTerm == 4 && h.store.compactedRevision == 2)
        _ = h.store.applyBatch([(7, .noop), (8, .compact(CompactionRequest(revision: 3)))], term: 5)
        #expect(h.store.consistentIndex == 8 && h.store.consistentTerm == 5)
        try h.reopen()
        #expect(h.store.consistentIndex == 8 && h.store.consistentTerm == 5)
    }
}
