// What the application must do with a `Ready`, in this order:
//   1. Persist `snapshot` (if any), `entries` and `hardState` (if any); fsync when `mustSync`.
//      Messages of type `.app` (a leader's appends) may be sent before or while this write is
//      synced (Raft §10.2.1). Every other message goes out only once the write is durable: vote
//      and append responses promise persisted state.
//   2. Install `snapshot` into the state machine, then apply `committedEntries` (calling
//      `RawNode.applyConfChange` for `.confChange` entries) and serve `readStates` once applied.
//      Applying may overlap step 1: committed entries are durable on a quorum already, even those
//      a follower receives in this same Ready's `entries`.
//   3. Call `RawNode.advance(_:)` only once step 1 is durable. `advance` is the node's own
//      persistence acknowledgement: a leader counts its own entries toward the commit index, and a
//      candidate its vote for itself, only then — so a single-voter cluster commits a proposal in
//      the Ready after the one that carried it, and one Ready's write must finish before the next
//      Ready is taken.

public struct Ready: Sendable {
    /// Set when leader or role changed.
    public var softState: SoftState?
    /// Set when term, vote or commit changed.
    public var hardState: HardState?
    public var readStates: [ReadState] = []
    /// Entries to append to stable storage.
    public var entries: [Entry] = []
    /// A snapshot from the leader to persist and install.
    public var snapshot: Snapshot?
    /// Entries known committed (durable on a quorum), to apply in order. On a follower they may
    /// include entries of `entries` above that this node has not persisted yet.
    public var committedEntries: [Entry] = []
    public var messages: [Message] = []
    /// Whether entries or the hard state's term/vote changed, so the write must be synced to disk.
    public var mustSync: Bool = false

    public init() {}
}

public struct RaftStatus: Equatable, Sendable {
    public var id: UInt64
    public var hardState: HardState
    public var softState: SoftState
    public var applied: UInt64
    public var lastIndex: UInt64
    public var leadTransferee: UInt64
    /// Membership in force (the latest in the log, committed or not).
    public var confState: ConfState
}
