// Public value types of the Raft module. They mirror etcd's raftpb messages, adapted to Swift.

/// Node id 0 means "nobody" (no leader, no vote).
public let raftNoNode: UInt64 = 0

public enum EntryType: UInt8, Sendable {
    case normal = 0
    case confChange = 1
}

/// One log entry. `data` is opaque to Raft except for `.confChange` entries, which hold an encoded `ConfChange`.
public struct Entry: Equatable, Sendable {
    public var term: UInt64
    public var index: UInt64
    public var type: EntryType
    public var data: [UInt8]

    public init(term: UInt64 = 0, index: UInt64 = 0, type: EntryType = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.type = type
        self.data = data
    }

    /// Approximate in-memory/on-wire size, used for the byte limits (payload plus header).
    @inlinable public var byteSize: UInt64 { UInt64(data.count) + 24 }
}

/// The state that must be persisted before messages of the same `Ready` are sent.
public struct HardState: Equatable, Sendable {
    public var term: UInt64
    public var vote: UInt64
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: UInt64 = 0, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }

    public var isEmpty: Bool { self == HardState() }
}

/// Cluster membership: voters and non-voting learners, both kept sorted and disjoint.
public struct ConfState: Equatable, Sendable {
    public private(set) var voters: [UInt64]
    public private(set) var learners: [UInt64]

    public init(voters: [UInt64] = [], learners: [UInt64] = []) {
        self.voters = Array(Set(voters)).sorted()
        self.learners = Array(Set(learners).subtracting(voters)).sorted()
    }

    public func isVoter(_ id: UInt64) -> Bool { voters.contains(id) }
    public func isLearner(_ id: UInt64) -> Bool { learners.contains(id) }
    public func isMember(_ id: UInt64) -> Bool { isVoter(id) || isLearner(id) }
    /// All members, sorted (deterministic iteration order matters for replayable simulations).
    public var members: [UInt64] { (voters + learners).sorted() }

    /// The membership after `cc`. Invalid changes (see `ConfChange.isValid(on:)`) leave it unchanged.
    public func applying(_ cc: ConfChange) -> ConfState {
        guard cc.isValid(on: self) else { return self }
        var v = voters
        var l = learners
        switch cc.type {
        case .addNode:
            l.removeAll { $0 == cc.nodeID }
            v.append(cc.nodeID)
        case .addLearnerNode:
            l.append(cc.nodeID)
        case .removeNode:
            v.removeAll { $0 == cc.nodeID }
            l.removeAll { $0 == cc.nodeID }
        }
        return ConfState(voters: v, learners: l)
    }
}

public struct SnapshotMetadata: Equatable, Sendable {
    public var index: UInt64
    public var term: UInt64
    public var confState: ConfState

    public init(index: UInt64 = 0, term: UInt64 = 0, confState: ConfState = ConfState()) {
        self.index = index
        self.term = term
        self.confState = confState
    }
}

public struct Snapshot: Equatable, Sendable {
    public var metadata: SnapshotMetadata
    /// The application's state machine image; opaque to Raft.
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata = SnapshotMetadata(), data: [UInt8] = []) {
        self.metadata = metadata
        self.data = data
    }

    public var isEmpty: Bool { metadata.index == 0 }
}

public enum ConfChangeType: UInt8, Sendable {
    case addNode = 0
    case removeNode = 1
    case addLearnerNode = 2
}

/// A single-server membership change. `addNode` on a learner promotes it.
public struct ConfChange: Equatable, Sendable {
    public var type: ConfChangeType
    public var nodeID: UInt64
    /// Opaque to Raft (etcd puts the member's URLs here).
    public var context: [UInt8]

    public init(type: ConfChangeType, nodeID: UInt64, context: [UInt8] = []) {
        self.type = type
        self.nodeID = nodeID
        self.context = context
    }

    /// Whether the change makes sense against `conf`; the leader refuses invalid ones.
    public func isValid(on conf: ConfState) -> Bool {
        guard nodeID != raftNoNode else { return false }
        switch type {
        case .addNode: return !conf.isVoter(nodeID)
        case .addLearnerNode: return !conf.isMember(nodeID)
        case .removeNode:
            if conf.isLearner(nodeID) { return true }
            // Never remove the last voter: the group could not make progress again.
            return conf.isVoter(nodeID) && conf.voters.count > 1
        }
    }
}

public enum MessageType: UInt8, Sendable, CaseIterable {
    // Local-only (never on the wire): produced by tick() and the RawNode API.
    case hup = 0
    case beat = 1
    case checkQuorum = 2
    case unreachable = 3
    case snapStatus = 4
    // Local or forwarded from a follower to the leader.
    case prop = 5
    case readIndex = 6
    case transferLeader = 7
    // Peer messages.
    case app = 8
    case appResp = 9
    case vote = 10
    case voteResp = 11
    case preVote = 12
    case preVoteResp = 13
    case snapshot = 14
    case heartbeat = 15
    case heartbeatResp = 16
    case readIndexResp = 17
    case timeoutNow = 18

    /// Messages a peer may never send us.
    public var isLocalOnly: Bool {
        switch self {
        case .hup, .beat, .checkQuorum, .unreachable, .snapStatus: return true
        default: return false
        }
    }

    public var isResponse: Bool {
        switch self {
        case .appResp, .voteResp, .preVoteResp, .heartbeatResp, .unreachable, .snapStatus: return true
        default: return false
        }
    }
}

/// Everything Raft nodes say to each other. Unused fields stay at their zero values.
public struct Message: Equatable, Sendable {
    public var type: MessageType
    public var to: UInt64
    public var from: UInt64
    public var term: UInt64
    /// Term of the entry at `index` (append), or of the candidate's last entry (vote), or the hint's term (reject).
    public var logTerm: UInt64
    public var index: UInt64
    public var entries: [Entry]
    public var commit: UInt64
    public var snapshot: Snapshot?
    public var reject: Bool
    public var rejectHint: UInt64
    /// ReadIndex request context, or the leader-transfer marker on votes.
    public var context: [UInt8]

    public init(type: MessageType, to: UInt64 = 0, from: UInt64 = 0, term: UInt64 = 0, logTerm: UInt64 = 0,
                index: UInt64 = 0, entries: [Entry] = [], commit: UInt64 = 0, snapshot: Snapshot? = nil,
                reject: Bool = false, rejectHint: UInt64 = 0, context: [UInt8] = []) {
        self.type = type
        self.to = to
        self.from = from
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.snapshot = snapshot
        self.reject = reject
        self.rejectHint = rejectHint
        self.context = context
    }
}

/// The answer to a ReadIndex request: reads with `requestCtx` may be served once `index` is applied.
public struct ReadState: Equatable, Sendable {
    public var index: UInt64
    public var requestCtx: [UInt8]

    public init(index: UInt64, requestCtx: [UInt8]) {
        self.index = index
        self.requestCtx = requestCtx
    }
}

public enum NodeRole: UInt8, Sendable {
    case follower, candidate, leader, preCandidate
}

/// Volatile state, reported in a `Ready` when it changes; never needs to be persisted.
public struct SoftState: Equatable, Sendable {
    public var lead: UInt64
    public var role: NodeRole

    public init(lead: UInt64, role: NodeRole) {
        self.lead = lead
        self.role = role
    }
}

public enum SnapshotStatus: Sendable {
    case finish, failure
}

public enum RaftError: Error, Equatable, Sendable {
    /// No leader is known, a leadership transfer is in progress, or a queue bound was hit.
    case proposalDropped
    /// A configuration change is refused: one is still uncommitted, or it is invalid for the membership.
    case confChangeRefused
    /// The requested index is older than the storage's first index.
    case compacted
    /// The requested index is newer than the storage's last index.
    case unavailable
    case snapshotOutOfDate
    case snapshotTemporarilyUnavailable
    /// A local-only message type arrived through `step`.
    case stepLocalMessage
    /// A response came from a peer that is not in the configuration.
    case stepPeerNotFound
    case invalidConfig(String)
}
