// Raft §5.3 (log replication), §5.4.2 (commit rule), proposals and forwarding, flow control.
import Testing
@testable import Raft

@Suite struct ReplicationTests {
    @Test func committedProposalIsAppliedEverywhere() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        try net.raft(1).propose([7])
        net.stabilize()
        for id: UInt64 in [1, 2, 3] { #expect(net.applied(id) == [[7]]) }
        #expect(net.raft(2).status.hardState.commit == net.raft(1).status.hardState.commit)
    }

    @Test func leaderCommitsWithMajorityOnly() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        try net.raft(1).propose([1])
        net.stabilize()
        #expect(net.applied(1) == [[1]])
        #expect(net.applied(3).isEmpty)
        net.isolate(2)
        try net.raft(1).propose([2])
        net.stabilize()
        #expect(net.applied(1) == [[1]])  // no quorum for the second entry
    }

    @Test func followerForwardsProposalsToLeader() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        try net.raft(3).propose([9])
        net.stabilize()
        #expect(net.applied(1) == [[9]])
    }

    @Test func proposalDroppedWithoutLeader() {
        let net = TestNetwork(voters: [1, 2, 3])
        #expect(throws: RaftError.proposalDropped) { try net.raft(2).propose([1]) }
    }

    @Test func proposalDroppedWhenForwardingDisabled() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.disableProposalForwarding = true }
        net.elect(1)
        #expect(throws: RaftError.proposalDropped) { try net.raft(2).propose([1]) }
    }

    @Test func uncommittedSizeLimitDropsProposals() throws {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.maxUncommittedEntriesSize = 100 }
        net.elect(1)
        net.isolate(1)
        try net.raft(1).propose(Array(repeating: 1, count: 60))
        #expect(throws: RaftError.proposalDropped) { try net.raft(1).propose(Array(repeating: 2, count: 60)) }
    }

    @Test func divergentFollowerLogIsRepairedWithFewProbes() throws {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false }
        net.elect(1)
        try net.raft(1).propose([0])
        net.stabilize()
        // Leader 1 appends many entries nobody else sees.
        net.isolate(1)
        for i in 1...50 { try net.raft(1).propose([UInt8(i)]) }
        net.stabilize()
        // 2 and 3 move on in a new term.
        net.cut = [[1, 2], [2, 1], [1, 3], [3, 1]]
        net.elect(2)
        for i in 100..<110 { try net.raft(2).propose([UInt8(i)]) }
        net.stabilize()
        // Heal: count the rejected appends needed to repair node 1's log.
        net.heal()
        var rejections = 0
        for _ in 0..<5 {
            net.raft(2).tick()
            for _ in 0..<100 {
                var msgs: [Message] = []
                for id in net.ids { msgs += net.processReady(id) }
                if msgs.isEmpty { break }
                rejections += msgs.filter { $0.type == .appResp && $0.reject }.count
                for m in msgs { net.deliver(m) }
            }
        }
        #expect(rejections <= 3, "fast back-off should skip the whole divergent term, took \(rejections)")
        #expect(net.applied(1) == net.applied(2))
        #expect(net.applied(1).count == 11)
    }

    @Test func onlyCurrentTermEntriesCommitByCounting() throws {
        // Raft §5.4.2 / Figure 8: an old-term entry on a majority is not committed by counting.
        let s = MemoryStorage.bootstrap(voters: [1, 2, 3])
        try s.append([Entry(term: 2, index: 2), Entry(term: 3, index: 3)])
        let log = try RaftLog(storage: s, maxNextEntriesSize: .max)
        #expect(!log.maybeCommit(2, term: 4))
        #expect(log.committed == 1)
        #expect(log.maybeCommit(3, term: 3))
        #expect(log.committed == 3)
    }

    @Test func newLeaderCommitsPreviousTermEntriesViaItsOwnEntry() throws {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false }
        net.elect(1)
        net.dropTypes = [.appResp]  // entries replicate but the leader never learns it
        try net.raft(1).propose([5])
        net.stabilize()
        #expect(net.applied(2).isEmpty)
        net.dropTypes = []
        net.elect(2)
        #expect(net.role(2) == .leader)
        for id: UInt64 in [1, 2, 3] { #expect(net.applied(id) == [[5]]) }
    }

    @Test func flowControlBoundsInflightAppends() throws {
        let net = TestNetwork(voters: [1, 2]) { $0.maxInflightMsgs = 3; $0.maxSizePerMsg = 1 }
        net.elect(1)
        // Switch node 2 to replicate state, then stop acknowledgements.
        net.dropTypes = [.appResp]
        for i in 0..<10 { try net.raft(1).propose([UInt8(i)]) }
        let msgs = net.processReady(1).filter { $0.type == .app && !$0.entries.isEmpty }
        #expect(msgs.count <= 3)
        let pr = net.core(1).tracker[2]!
        #expect(pr.state == .replicate)
        #expect(pr.inflights.isFull)
        net.dropTypes = []
        for m in msgs { net.deliver(m) }
        net.stabilize()
        #expect(net.applied(2).count == 10)
    }
}
