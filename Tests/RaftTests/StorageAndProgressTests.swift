// MemoryStorage semantics, the inflight window, the membership history.
import Testing
@testable import Raft

@Suite struct StorageAndProgressTests {
    private func storage() throws -> MemoryStorage {
        let s = MemoryStorage.bootstrap(voters: [1])
        try s.append((2...6).map { Entry(term: UInt64($0), index: UInt64($0), data: [UInt8($0)]) })
        return s
    }

    @Test func termAndBounds() throws {
        let s = try storage()
        #expect(try s.firstIndex() == 2)
        #expect(try s.lastIndex() == 6)
        #expect(try s.term(1) == 1)
        #expect(throws: RaftError.compacted) { try s.term(0) }
        #expect(throws: RaftError.unavailable) { try s.term(7) }
    }

    @Test func entriesRespectMaxSizeButReturnAtLeastOne() throws {
        let s = try storage()
        #expect(try s.entries(2, 7, maxSize: .max).count == 5)
        #expect(try s.entries(2, 7, maxSize: 0).count == 1)
        #expect(try s.entries(2, 7, maxSize: 50).count == 2)  // 25 bytes each
        #expect(throws: RaftError.compacted) { try s.entries(1, 3, maxSize: .max) }
    }

    @Test func compactAndSnapshot() throws {
        let s = try storage()
        try s.createSnapshot(index: 4, confState: ConfState(voters: [1]), data: [4])
        try s.compact(4)
        #expect(try s.firstIndex() == 5)
        #expect(try s.term(4) == 4)
        #expect(throws: RaftError.compacted) { try s.compact(3) }
        #expect(throws: RaftError.snapshotOutOfDate) {
            try s.applySnapshot(Snapshot(metadata: SnapshotMetadata(index: 3, term: 3)))
        }
        try s.applySnapshot(Snapshot(metadata: SnapshotMetadata(index: 10, term: 9)))
        #expect(try s.firstIndex() == 11)
        #expect(try s.lastIndex() == 10)
    }

    @Test func appendTruncatesConflictingSuffix() throws {
        let s = try storage()
        try s.append([Entry(term: 9, index: 4), Entry(term: 9, index: 5)])
        #expect(try s.lastIndex() == 5)
        #expect(try s.term(4) == 9)
        #expect(try s.term(3) == 3)
    }

    @Test func inflightsWindow() {
        var f = Inflights(capacity: 3)
        f.add(1); f.add(2); f.add(5)
        #expect(f.isFull)
        f.freeLE(2)
        #expect(f.count == 1)
        f.add(6); f.add(9)
        #expect(f.isFull)
        f.freeFirstOne()
        #expect(f.count == 2)
        f.freeLE(100)
        #expect(f.count == 0)
        // Wrap around many times.
        for i in 0..<100 { f.add(UInt64(100 + i)); f.freeLE(UInt64(100 + i)) }
        #expect(f.count == 0)
    }

    @Test func progressProbeAndReplicate() {
        let p = Progress(next: 10, maxInflight: 2, isLearner: false)
        #expect(!p.isPaused)
        p.probeSent = true
        #expect(p.isPaused)
        #expect(p.maybeDecrTo(rejected: 9, matchHint: 4))
        #expect(p.next == 5)
        #expect(!p.maybeDecrTo(rejected: 9, matchHint: 4))  // stale
        #expect(p.maybeUpdate(6))
        p.becomeReplicate()
        #expect(p.next == 7)
        p.inflights.add(8); p.inflights.add(9)
        #expect(p.isPaused)
        p.becomeSnapshot(20)
        #expect(p.isPaused)
        p.becomeProbe()
        #expect(p.next == 21)
    }

    @Test func membershipHistoryRollsBackAndCompacts() {
        var h = MembershipHistory(base: ConfState(voters: [1, 2, 3]), baseIndex: 5)
        let add = Entry(term: 2, index: 7, type: .confChange, data: ConfChange(type: .addLearnerNode, nodeID: 4).encoded())
        let promote = Entry(term: 2, index: 9, type: .confChange, data: ConfChange(type: .addNode, nodeID: 4).encoded())
        let changed = h.appended([Entry(term: 2, index: 6), add, Entry(term: 2, index: 8), promote][...])
        #expect(changed)
        #expect(h.current.voters == [1, 2, 3, 4])
        #expect(h.conf(at: 8).learners == [4])
        h.truncate(from: 9)
        #expect(h.current.learners == [4])
        h.compact(upTo: 8)
        #expect(h.baseIndex == 8)
        #expect(h.current.learners == [4])
        // Garbage conf-change payloads are ignored, not trapped on.
        let changedByGarbage = h.appended([Entry(term: 3, index: 9, type: .confChange, data: [0xff])][...])
        #expect(!changedByGarbage)
    }

    @Test func confChangeValidity() {
        let c = ConfState(voters: [1, 2], learners: [3])
        #expect(ConfChange(type: .addNode, nodeID: 3).isValid(on: c))
        #expect(!ConfChange(type: .addNode, nodeID: 1).isValid(on: c))
        #expect(!ConfChange(type: .addLearnerNode, nodeID: 2).isValid(on: c))
        #expect(!ConfChange(type: .removeNode, nodeID: 9).isValid(on: c))
        #expect(!ConfChange(type: .removeNode, nodeID: 1).isValid(on: ConfState(voters: [1])))
        #expect(!ConfChange(type: .addNode, nodeID: 0).isValid(on: c))
        #expect(c.applying(ConfChange(type: .addNode, nodeID: 3)) == ConfState(voters: [1, 2, 3]))
    }

    @Test func configValidation() {
        var c = Config(id: 1)
        c.electionTick = 1
        #expect(throws: RaftError.self) { try c.validate() }
        #expect(throws: RaftError.self) { try Config(id: 0).validate() }
    }
}
