// Raft §5.2 (leader election), §5.4.1 (election restriction), PreVote, CheckQuorum, stickiness.
import Testing
@testable import Raft

@Suite struct ElectionTests {
    @Test func candidateWithMajorityBecomesLeader() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        #expect(net.role(1) == .leader)
        #expect(net.term(1) == 2)
        for id: UInt64 in [2, 3] {
            #expect(net.role(id) == .follower)
            #expect(net.lead(id) == 1)
            #expect(net.term(id) == 2)
        }
    }

    @Test func followerCampaignsAfterElectionTimeout() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.preVote = false }
        net.isolate(1)
        net.tick(1, 20)  // randomized timeout is in [10, 20)
        #expect(net.role(1) == .candidate)
        #expect(net.term(1) > 1)
        #expect(net.raft(1).status.hardState.vote == 1)
    }

    @Test func candidateWithoutMajorityStaysCandidateAndRetries() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.preVote = false }
        net.isolate(1)
        try! net.raft(1).campaign()
        net.stabilize()
        let t = net.term(1)
        net.tick(1, 40)
        #expect(net.role(1) == .candidate)
        #expect(net.term(1) > t)
    }

    @Test func grantsAtMostOneVotePerTerm() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        let r = net.raft(3)
        try r.step(Message(type: .vote, to: 3, from: 1, term: 5, logTerm: 1, index: 1))
        try r.step(Message(type: .vote, to: 3, from: 2, term: 5, logTerm: 1, index: 1))
        let rd = r.ready()
        let resps = rd.messages.filter { $0.type == .voteResp }
        #expect(resps.count == 2)
        #expect(resps.first { $0.to == 1 }?.reject == false)
        #expect(resps.first { $0.to == 2 }?.reject == true)
        r.advance(rd)
    }

    @Test func rejectsCandidateWithStaleLog() throws {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false }
        net.elect(1)
        try net.raft(1).propose([1])
        net.stabilize()
        // Node 3 asks for votes claiming a log that ends before ours.
        let r = net.raft(2)
        try r.step(Message(type: .vote, to: 2, from: 3, term: 10, logTerm: 1, index: 1))
        let rd = r.ready()
        #expect(rd.messages.first { $0.type == .voteResp }?.reject == true)
        r.advance(rd)
    }

    @Test func higherTermMakesLeaderStepDown() throws {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false }
        net.elect(1)
        try net.raft(1).step(Message(type: .app, to: 1, from: 2, term: 9, logTerm: 2, index: 2))
        #expect(net.role(1) == .follower)
        #expect(net.term(1) == 9)
        #expect(net.lead(1) == 2)
    }

    @Test func preVotePreventsTermInflationFromPartitionedNode() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        net.tick(3, 100)
        #expect(net.role(3) == .preCandidate)
        #expect(net.term(3) == 2)  // never bumped
        net.heal()
        net.tickAll(3)
        #expect(net.role(1) == .leader)
        #expect(net.term(1) == 2)
        #expect(net.lead(3) == 1)
    }

    @Test func withoutPreVoteRejoiningNodeDisruptsTerm() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        net.elect(1)
        net.isolate(3)
        net.tick(3, 40)
        #expect(net.term(3) > 2)
    }

    @Test func checkQuorumLeaderStepsDownWhenIsolated() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolate(1)
        net.tick(1, 9)
        #expect(net.role(1) == .leader)  // first check still sees the votes of this term
        net.tick(1, 11)
        #expect(net.role(1) == .follower)
        #expect(net.lead(1) == raftNoNode)
    }

    @Test func leaderStickinessIgnoresVotesWhileLeaderIsHeard() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.elect(1)
        let r = net.raft(2)
        try r.step(Message(type: .vote, to: 2, from: 3, term: 3, logTerm: 2, index: 100))
        #expect(net.term(2) == 2)
        #expect(!r.hasReady)
        // A leader transfer is the exception.
        try r.step(Message(type: .vote, to: 2, from: 3, term: 3, logTerm: 2, index: 100,
                           context: campaignTransferContext))
        #expect(net.term(2) == 3)
        let rd = r.ready()
        #expect(rd.messages.first { $0.type == .voteResp }?.reject == false)
        r.advance(rd)
    }
}
