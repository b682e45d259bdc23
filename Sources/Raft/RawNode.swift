// The public face of the state machine (etcd's RawNode): feed it ticks, messages and proposals,
// collect `Ready` batches, and acknowledge them with `advance`. Not thread-safe: confine each
// RawNode (and its Storage) to one thread or actor.

public final class RawNode {
    let core: RaftCore
    private var prevSoftState: SoftState
    private var prevHardState: HardState
    /// A `Ready` was handed out and not yet advanced.
    private var readyOutstanding = false
    /// Membership as of the application's applied index (what snapshots must record).
    public private(set) var appliedConfState: ConfState

    public init(config: Config, storage: Storage) throws {
        core = try RaftCore(config: config, storage: storage)
        prevSoftState = core.softState
        prevHardState = core.hardState
        appliedConfState = core.initialAppliedConfState
    }

    public var id: UInt64 { core.id }

    /// Advances logical time by one tick (election and heartbeat timeouts count ticks).
    public func tick() { core.tick() }

    /// Starts an election now (skipping the timeout).
    public func campaign() throws { try core.step(Message(type: .hup)) }

    public func propose(_ data: [UInt8]) throws {
        try core.step(Message(type: .prop, from: core.id, entries: [Entry(data: data)]))
    }

    /// Proposes several entries in one message (one uncommitted-size check, one broadcast).
    public func propose(batch: [[UInt8]]) throws {
        guard !batch.isEmpty else { return }
        try core.step(Message(type: .prop, from: core.id, entries: batch.map { Entry(data: $0) }))
    }

    /// Proposes a single-server membership change. Throws `.confChangeRefused` on the leader when
    /// another change is still uncommitted or the change is invalid for the current membership.
    public func proposeConfChange(_ cc: ConfChange) throws {
        try core.step(Message(type: .prop, from: core.id, entries: [Entry(type: .confChange, data: cc.encoded())]))
    }

    /// Delivers a message from a peer.
    public func step(_ m: Message) throws {
        guard !m.type.isLocalOnly else { throw RaftError.stepLocalMessage }
        if m.type.isResponse && core.tracker[m.from] == nil { throw RaftError.stepPeerNotFound }
        try core.step(m)
    }

    /// Requests a linearizable read; the answer arrives as a `ReadState` with the same context,
    /// which must be non-empty and unique among outstanding requests.
    public func readIndex(context: [UInt8]) throws {
        precondition(!context.isEmpty, "read index context must be non-empty")
        try core.step(Message(type: .readIndex, from: core.id, context: context))
    }

    /// Asks the leader to hand leadership to `transferee` (proposals are dropped meanwhile).
    public func transferLeader(to transferee: UInt64) {
        try? core.step(Message(type: .transferLeader, from: transferee))
    }

    public func reportUnreachable(_ id: UInt64) {
        try? core.step(Message(type: .unreachable, from: id))
    }

    public func reportSnapshot(_ id: UInt64, status: SnapshotStatus) {
        try? core.step(Message(type: .snapStatus, from: id, reject: status == .failure))
    }

    /// Records that a committed conf-change entry was applied and returns the membership as of the
    /// applied index, which the application stores in its snapshots. (Raft itself already switched
    /// when the entry entered the log; see Membership.swift.)
    @discardableResult
    public func applyConfChange(_ cc: ConfChange) -> ConfState {
        appliedConfState = appliedConfState.applying(cc)
        return appliedConfState
    }

    public var status: RaftStatus {
        RaftStatus(id: core.id, hardState: core.hardState, softState: core.softState, applied: core.log.applied,
                   lastIndex: core.log.lastIndex, leadTransferee: core.leadTransferee,
                   confState: core.tracker.conf)
    }

    public var hasReady: Bool {
        if core.softState != prevSoftState { return true }
        let hs = core.hardState
        if !hs.isEmpty && hs != prevHardState { return true }
        if core.log.unstable.snapshot != nil { return true }
        if !core.messages.isEmpty || !core.log.unstableEntries.isEmpty || !core.readStates.isEmpty { return true }
        return core.log.hasNextEntries
    }

    /// Collects pending work. Must be followed by `advance` before the next call.
    public func ready() -> Ready {
        precondition(!readyOutstanding, "ready() called twice without advance()")
        readyOutstanding = true
        var rd = Ready()
        let ss = core.softState
        if ss != prevSoftState {
            rd.softState = ss
            prevSoftState = ss
        }
        let hs = core.hardState
        if hs != prevHardState {
            rd.hardState = hs
            rd.mustSync = hs.term != prevHardState.term || hs.vote != prevHardState.vote
            prevHardState = hs
        }
        rd.entries = core.log.unstableEntries
        if !rd.entries.isEmpty { rd.mustSync = true }
        if let snap = core.log.unstable.snapshot {
            rd.snapshot = snap
            rd.mustSync = true
            appliedConfState = snap.metadata.confState
        }
        rd.committedEntries = core.log.nextEntries()
        swap(&rd.messages, &core.messages)
        swap(&rd.readStates, &core.readStates)
        return rd
    }

    /// The application finished everything `rd` asked for; in particular its snapshot, entries and
    /// hard state are durable. This is the node's own persistence acknowledgement: a leader counts its
    /// entries toward the commit index, and a candidate its own vote, only from here on.
    public func advance(_ rd: Ready) {
        precondition(readyOutstanding, "advance() without ready()")
        readyOutstanding = false
        if let snap = rd.snapshot {
            core.log.stableSnapTo(snap.metadata.index)
            if snap.metadata.index > core.log.applied { core.log.appliedTo(snap.metadata.index) }
        }
        if let last = rd.entries.last { core.log.stableTo(last.index, last.term) }
        if let last = rd.committedEntries.last {
            core.log.appliedTo(last.index)
            core.reduceUncommittedSize(rd.committedEntries)
        }
        core.persisted(hardState: rd.hardState)
    }
}
