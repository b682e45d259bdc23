// A node counts its own state toward a quorum only once the application persisted it (`advance`):
// a leader its log entries toward the commit index, a candidate its vote for itself.
import Testing
@testable import Raft

/// Writes a Ready to `storage` the way the application must before `advance`.
private func persist(_ rd: Ready, _ storage: MemoryStorage) throws {
    if let s = rd.snapshot { try storage.applySnapshot(s) }
    try storage.append(rd.entries)
    if let hs = rd.hardState { storage.setHardState(hs) }
}

private func singleVoter(_ storage: MemoryStorage = MemoryStorage.bootstrap(voters: [1]),
                         unsafe: Bool = false) throws -> RawNode {
    var c = Config(id: 1, randomSeed: 1)
    c.applied = storage.currentSnapshot.metadata.index
    c.unsafeCountUnpersistedSelfAck = unsafe
    return try RawNode(config: c, storage: storage)
}

/// Persists and advances until the node has nothing left to do.
private func drain(_ r: RawNode, _ storage: MemoryStorage) throws {
    while r.hasReady {
        let rd = r.ready()
        try persist(rd, storage)
        r.advance(rd)
    }
}

@Suite struct DurabilityTests {
    @Test func singleVoterCommitsAProposalOnlyAfterItsReadyWasAdvanced() throws {
        let s = MemoryStorage.bootstrap(voters: [1])
        let r = try singleVoter(s)
        try r.campaign()
        try drain(r, s)
        #expect(r.status.softState.role == .leader)
        let commit = r.status.hardState.commit

        try r.propose([7])
        let rd = r.ready()
        #expect(rd.entries.map(\.data) == [[7]])
        #expect(rd.committedEntries.isEmpty)  // not durable anywhere yet
        #expect((rd.hardState?.commit ?? commit) == commit)
        #expect(r.status.hardState.commit == commit)
        try persist(rd, s)
        r.advance(rd)

        #expect(r.hasReady)
        let next = r.ready()
        #expect(next.committedEntries.map(\.data) == [[7]])
        #expect(next.hardState?.commit == commit + 1)
        r.advance(next)
        #expect(!r.hasReady)
    }

    @Test func leaderDoesNotCountItsUnpersistedEntriesTowardAQuorum() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        let commit = net.raft(1).status.hardState.commit
        try net.raft(1).propose([5])
        let rd = net.raft(1).ready()
        #expect(rd.entries.map(\.data) == [[5]])
        // Appends may leave before the leader's own write is durable; only node 2 answers.
        for m in rd.messages where m.type == .app && m.to == 2 { net.deliver(m) }
        let acks = net.processReady(2).filter { $0.type == .appResp && !$0.reject }
        #expect(!acks.isEmpty)
        for m in acks { net.deliver(m) }
        // Node 2's copy plus the leader's unpersisted one is not a quorum of durable copies.
        #expect(net.raft(1).status.hardState.commit == commit)

        try persist(rd, net.peers[1]!.storage)
        net.raft(1).advance(rd)
        #expect(net.raft(1).status.hardState.commit == commit + 1)
        #expect(net.raft(1).hasReady)
        let next = net.raft(1).ready()
        #expect(next.committedEntries.map(\.data) == [[5]])
        // The followers learn the new commit index right away.
        let apps = next.messages.filter { $0.type == .app }
        #expect(Set(apps.map(\.to)) == [2, 3] && apps.allSatisfy { $0.commit == commit + 1 })
        net.raft(1).advance(next)
    }

    @Test func followerAcknowledgementsAloneCanCommit() throws {
        // Counting only durable copies does not mean waiting for the leader's own write.
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        let commit = net.raft(1).status.hardState.commit
        try net.raft(1).propose([6])
        let rd = net.raft(1).ready()
        for m in rd.messages where m.type == .app { net.deliver(m) }
        for id: UInt64 in [2, 3] { for m in net.processReady(id) { net.deliver(m) } }
        #expect(net.raft(1).status.hardState.commit == commit + 1)
        try persist(rd, net.peers[1]!.storage)
        net.raft(1).advance(rd)
        net.stabilize()
        for id: UInt64 in [1, 2, 3] { #expect(net.applied(id) == [[6]]) }
    }

    @Test func candidateCountsItsOwnVoteOnlyOncePersisted() throws {
        // A single voter with a learner: leading before its term is durable could, after a crash,
        // lead the same term again and send the learner different entries under the same (index, term).
        let s = MemoryStorage()
        try s.applySnapshot(Snapshot(metadata: SnapshotMetadata(index: 1, term: 1,
                                                                confState: ConfState(voters: [1], learners: [2]))))
        s.setHardState(HardState(term: 1, vote: 0, commit: 1))
        let r = try singleVoter(s)
        try r.campaign()
        #expect(r.status.softState.role == .candidate)
        let rd = r.ready()
        #expect(rd.hardState?.term == 2 && rd.hardState?.vote == 1)
        #expect(!rd.messages.contains { $0.type == .app })
        try persist(rd, s)
        r.advance(rd)
        #expect(r.status.softState.role == .leader)
        let next = r.ready()
        #expect(next.messages.contains { $0.type == .app && $0.to == 2 && $0.term == 2 })
        r.advance(next)
    }

    @Test func newLeaderCountsOnlyItsPersistedLog() throws {
        let s = MemoryStorage.bootstrap(voters: [1])
        try s.append((2...5).map { Entry(term: 1, index: UInt64($0), data: [UInt8($0)]) })
        let r = try singleVoter(s)
        try r.campaign()
        let rd = r.ready()
        try persist(rd, s)
        r.advance(rd)
        #expect(r.status.softState.role == .leader)
        #expect(r.core.log.lastIndex == 6)  // the new term's empty entry, not yet persisted
        #expect(r.core.tracker[1]!.match == 5)
        #expect(r.status.hardState.commit == 1)
        try drain(r, s)
        #expect(r.core.tracker[1]!.match == 6)
        #expect(r.status.hardState.commit == 6)
        #expect(r.status.applied == 6)
    }

    @Test func restartedSingleVoterServesReadsOnlyAfterCommittingInItsTerm() throws {
        // Entries 2...5 are durable but the persisted commit index says 1 (its hard state update was
        // lost in a crash): until the new term's entry commits, 1 is not a linearizable read index.
        let s = MemoryStorage.bootstrap(voters: [1])
        try s.append((2...5).map { Entry(term: 1, index: UInt64($0), data: [UInt8($0)]) })
        let r = try singleVoter(s)
        try r.campaign()
        var rd = r.ready()
        try persist(rd, s)
        r.advance(rd)
        #expect(r.status.softState.role == .leader)
        try r.readIndex(context: [42])
        rd = r.ready()
        #expect(rd.readStates.isEmpty)
        try persist(rd, s)
        r.advance(rd)
        rd = r.ready()
        #expect(rd.readStates == [ReadState(index: 6, requestCtx: [42])])
        r.advance(rd)
    }

    @Test func restoredSnapshotIsStableOnlyOncePersisted() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        let snap = Snapshot(metadata: SnapshotMetadata(index: 10, term: 2, confState: ConfState(voters: [1, 2, 3])),
                            data: [1])
        try net.raft(2).step(Message(type: .snapshot, to: 2, from: 1, term: 2, snapshot: snap))
        let log = net.core(2).log
        #expect(log.lastIndex == 10)
        #expect(log.stableIndex == 0)
        let rd = net.raft(2).ready()
        #expect(rd.snapshot?.metadata.index == 10)
        try persist(rd, net.peers[2]!.storage)
        net.raft(2).advance(rd)
        #expect(log.stableIndex == 10)
    }

    @Test func unsafeSwitchRestoresTheOldSelfAcknowledgement() throws {
        // What the switch exists to demonstrate: the proposal is committed (and handed out for
        // applying) in the very Ready that asks for it to be written.
        let s = MemoryStorage.bootstrap(voters: [1])
        let r = try singleVoter(s, unsafe: true)
        try r.campaign()
        try drain(r, s)
        try r.propose([9])
        let rd = r.ready()
        #expect(rd.entries.map(\.data) == [[9]])
        #expect(rd.committedEntries.map(\.data) == [[9]])
        r.advance(rd)
    }
}
