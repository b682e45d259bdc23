// Raft §6 (membership changes, learners, leader removal), §7 (snapshots), leader transfer, ReadIndex.
import Testing
@testable import Raft

@Suite struct MembershipSnapshotTests {
    private func addAndCatchUp(_ net: TestNetwork, _ cc: ConfChange) throws {
        try net.raft(net.ids.first { net.role($0) == .leader }!).proposeConfChange(cc)
        net.stabilize()
        net.tickAll(3)
    }

    @Test func learnerReplicatesWithoutVotingThenIsPromoted() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        try net.raft(1).propose([1])
        net.stabilize()
        net.add(4)
        try addAndCatchUp(net, ConfChange(type: .addLearnerNode, nodeID: 4))
        #expect(net.raft(1).status.confState.learners == [4])
        #expect(net.applied(4) == [[1]])  // caught up through the leader's snapshot + log
        #expect(net.core(1).tracker.quorum == 2)  // learners do not count
        #expect(!net.core(4).promotable)
        net.tick(4, 50)
        #expect(net.role(4) == .follower)  // never campaigns
        try addAndCatchUp(net, ConfChange(type: .addNode, nodeID: 4))
        #expect(net.raft(1).status.confState.voters == [1, 2, 3, 4])
        #expect(net.core(1).tracker.quorum == 3)
        #expect(net.core(4).promotable)
    }

    @Test func onlyOneUncommittedConfChangeAtATime() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolate(1)  // keep the first change uncommitted
        try net.raft(1).proposeConfChange(ConfChange(type: .addLearnerNode, nodeID: 4))
        #expect(throws: RaftError.confChangeRefused) {
            try net.raft(1).proposeConfChange(ConfChange(type: .addLearnerNode, nodeID: 5))
        }
        #expect(throws: RaftError.confChangeRefused) {
            try net.raft(1).proposeConfChange(ConfChange(type: .removeNode, nodeID: 9))
        }
    }

    @Test func removedVoterNoLongerCounts() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        try addAndCatchUp(net, ConfChange(type: .removeNode, nodeID: 3))
        #expect(net.raft(1).status.confState.voters == [1, 2])
        net.isolate(3)
        try net.raft(1).propose([3])
        net.stabilize()
        #expect(net.applied(2) == [[3]])
    }

    @Test func removingTheLeaderMakesItStepDownAndHandOver() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        try net.raft(1).proposeConfChange(ConfChange(type: .removeNode, nodeID: 1))
        net.stabilize()
        #expect(net.role(1) == .follower)
        let newLeader = [UInt64(2), 3].first { net.role($0) == .leader }
        #expect(newLeader != nil)  // TimeoutNow handed leadership over without waiting for a timeout
        net.isolate(1)
        try net.raft(newLeader!).propose([4])
        net.stabilize()
        #expect(net.applied(2) == [[4]] && net.applied(3) == [[4]])
    }

    @Test func configurationRollsBackWhenConfEntryIsTruncated() throws {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false }
        net.elect(1)
        net.isolate(1)
        try net.raft(1).proposeConfChange(ConfChange(type: .addLearnerNode, nodeID: 4))
        net.stabilize()
        #expect(net.raft(1).status.confState.learners == [4])  // effective as soon as it is in the log
        net.cut = [[1, 2], [2, 1], [1, 3], [3, 1]]
        net.elect(2)
        try net.raft(2).propose([1])
        net.stabilize()
        net.heal()
        net.tickAll(3)
        #expect(net.raft(1).status.confState.learners == [])
        #expect(net.lead(1) == 2)
    }

    @Test func laggingFollowerCatchesUpFromSnapshot() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        for i in 0..<20 { try net.raft(1).propose([UInt8(i)]) }
        net.stabilize()
        // The leader snapshots and compacts away what node 3 needs.
        let p = net.peers[1]!
        let applied = p.raft.status.applied
        try p.storage.createSnapshot(index: applied, confState: p.raft.appliedConfState, data: [42])
        try p.storage.compact(applied)
        net.heal()
        net.tickAll(3)
        let s3 = net.peers[3]!.storage
        #expect(s3.currentSnapshot.metadata.index == applied)
        #expect(s3.currentSnapshot.data == [42])
        #expect(net.raft(3).status.hardState.commit == net.raft(1).status.hardState.commit)
        try net.raft(1).propose([99])
        net.stabilize()
        #expect(net.applied(3) == [[99]])  // entries after the snapshot apply normally
    }

    @Test func snapshotFailureReturnsFollowerToProbe() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        for i in 0..<5 { try net.raft(1).propose([UInt8(i)]) }
        net.stabilize()
        let p = net.peers[1]!
        try p.storage.createSnapshot(index: p.raft.status.applied, confState: p.raft.appliedConfState, data: [])
        try p.storage.compact(p.raft.status.applied)
        net.heal()
        net.dropTypes = [.snapshot]
        net.tickAll(2)
        #expect(net.core(1).tracker[3]!.state == .snapshot)
        net.raft(1).reportSnapshot(3, status: .failure)
        #expect(net.core(1).tracker[3]!.state == .probe)
        net.dropTypes = []
        net.tickAll(3)
        #expect(net.raft(3).status.hardState.commit == net.raft(1).status.hardState.commit)
    }

    @Test func leaderTransfer() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.raft(1).transferLeader(to: 2)
        net.stabilize()
        #expect(net.role(2) == .leader)
        #expect(net.lead(1) == 2)
    }

    @Test func transferRequestedOnFollowerIsForwarded() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.raft(3).transferLeader(to: 2)
        net.stabilize()
        #expect(net.role(2) == .leader)
    }

    @Test func proposalsDroppedDuringTransferAndTransferAbortsAfterTimeout() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        try net.raft(1).propose([1])
        net.stabilize()
        net.raft(1).transferLeader(to: 3)  // 3 is behind and unreachable: transfer stays pending
        #expect(net.raft(1).status.leadTransferee == 3)
        #expect(throws: RaftError.proposalDropped) { try net.raft(1).propose([2]) }
        net.tick(1, 10)
        #expect(net.raft(1).status.leadTransferee == raftNoNode)
        #expect(net.role(1) == .leader)
        try net.raft(1).propose([2])
    }

    @Test func readIndexOnLeaderAndFollower() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        try net.raft(1).propose([1])
        net.stabilize()
        let commit = net.raft(1).status.hardState.commit
        try net.raft(1).readIndex(context: [0xA])
        net.stabilize()
        #expect(net.peers[1]!.readStates == [ReadState(index: commit, requestCtx: [0xA])])
        try net.raft(2).readIndex(context: [0xB])
        net.stabilize()
        #expect(net.peers[2]!.readStates == [ReadState(index: commit, requestCtx: [0xB])])
    }

    @Test func readIndexNeedsAQuorumOfHeartbeats() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolate(1)
        try net.raft(1).readIndex(context: [1])
        net.stabilize()
        #expect(net.peers[1]!.readStates.isEmpty)
        net.heal()
        net.tick(1)
        #expect(net.peers[1]!.readStates.count == 1)
    }

    @Test func readIndexWaitsForFirstCommitOfTheTerm() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.dropTypes = [.app]
        net.elect(1)  // leader, but its empty entry cannot commit
        try net.raft(1).readIndex(context: [1])
        net.stabilize()
        #expect(net.peers[1]!.readStates.isEmpty)
        net.dropTypes = []
        net.tick(1, 2)
        #expect(net.peers[1]!.readStates.count == 1)
    }

    @Test func readIndexDroppedWithoutLeader() {
        let net = TestNetwork(voters: [1, 2, 3])
        #expect(throws: RaftError.proposalDropped) { try net.raft(2).readIndex(context: [1]) }
    }

    @Test func singleNodeClusterCommitsAndReadsImmediately() throws {
        let net = TestNetwork(voters: [1])
        net.elect(1)
        #expect(net.role(1) == .leader)
        try net.raft(1).propose([1])
        try net.raft(1).readIndex(context: [5])
        net.stabilize()
        #expect(net.applied(1) == [[1]])
        #expect(net.peers[1]!.readStates.count == 1)
    }

    @Test func restartKeepsPersistedStateAndMembership() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.add(4)
        try addAndCatchUp(net, ConfChange(type: .addLearnerNode, nodeID: 4))
        try net.raft(1).propose([8])
        net.stabilize()
        let storage = net.peers[2]!.storage
        var c = net.config(2)
        c.applied = 0
        let restarted = try RawNode(config: c, storage: storage)
        #expect(restarted.status.confState == ConfState(voters: [1, 2, 3], learners: [4]))
        #expect(restarted.status.hardState == storage.hardState)
        let rd = restarted.ready()
        #expect(rd.committedEntries.contains { $0.data == [8] })
        restarted.advance(rd)
    }
}
