// Parameters of one Raft node. Every queue and buffer has an explicit bound here.

public struct Config: Sendable {
    public var id: UInt64
    /// Ticks without hearing from a leader before campaigning (randomized in [n, 2n)).
    public var electionTick: Int = 10
    /// Ticks between leader heartbeats; must be smaller than `electionTick`.
    public var heartbeatTick: Int = 1
    /// The application's last applied index (on restart); entries after it are delivered again.
    public var applied: UInt64 = 0
    /// Bytes of entries per append message (at least one entry is always sent).
    public var maxSizePerMsg: UInt64 = 1 << 20
    /// Bytes of committed entries per `Ready`.
    public var maxCommittedSizePerReady: UInt64 = 64 << 20
    /// Bytes of uncommitted entries a leader accepts before dropping proposals.
    public var maxUncommittedEntriesSize: UInt64 = 256 << 20
    /// Append messages in flight to one follower in replicate state.
    public var maxInflightMsgs: Int = 256
    /// ReadIndex requests waiting for a quorum (and, before the first commit of a term, waiting for it).
    public var maxPendingReadIndex: Int = 4096
    /// Outgoing messages buffered between two `Ready`s; extra ones are dropped (Raft tolerates loss).
    public var maxOutgoingMessages: Int = 1 << 16
    /// Entries in one proposal.
    public var maxEntriesPerProposal: Int = 1 << 16
    public var checkQuorum: Bool = true
    public var preVote: Bool = true
    /// Followers drop proposals instead of forwarding them to the leader.
    public var disableProposalForwarding: Bool = false
    /// Seed of the election-timeout randomization: same seed, same behaviour.
    public var randomSeed: UInt64
    /// TEST ONLY — deliberately unsafe. Restores the old rule under which a leader counted its own log
    /// entries toward the commit index as soon as they were appended, before they were persisted
    /// (etcd-io/etcd#14370's class of bug: an acknowledged write can be lost in a crash). Exists so the
    /// simulation can show that it detects that bug. Internal: only `@testable` code can set it.
    var unsafeCountUnpersistedSelfAck = false

    public init(id: UInt64, randomSeed: UInt64? = nil) {
        self.id = id
        self.randomSeed = randomSeed ?? id &* 0x9E37_79B9_7F4A_7C15
    }

    public func validate() throws {
        func bad(_ s: String) -> RaftError { .invalidConfig(s) }
        guard id != raftNoNode else { throw bad("id must not be 0") }
        guard heartbeatTick > 0 else { throw bad("heartbeatTick must be greater than 0") }
        guard electionTick > heartbeatTick else { throw bad("electionTick must be greater than heartbeatTick") }
        guard maxInflightMsgs > 0 else { throw bad("maxInflightMsgs must be greater than 0") }
        guard maxPendingReadIndex > 0 else { throw bad("maxPendingReadIndex must be greater than 0") }
        guard maxOutgoingMessages > 0 else { throw bad("maxOutgoingMessages must be greater than 0") }
        guard maxEntriesPerProposal > 0 else { throw bad("maxEntriesPerProposal must be greater than 0") }
        guard maxSizePerMsg > 0, maxCommittedSizePerReady > 0, maxUncommittedEntriesSize > 0 else {
            throw bad("size limits must be greater than 0")
        }
    }
}

/// SplitMix64: tiny, fast, seedable; good enough for timeouts and simulations.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n` (n > 0).
    public mutating func below(_ n: UInt64) -> UInt64 {
        precondition(n > 0)
        return next() % n
    }
}
