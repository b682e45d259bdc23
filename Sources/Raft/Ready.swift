// What the application must do after Raft made progress, in this order:
//   1. persist `snapshot` (if any), `entries` and `hardState` (if any) — fsync when `mustSync`;
//   2. send `messages`;
//   3. install `snapshot` into the state machine, then apply `committedEntries` (calling
//      `RawNode.applyConfChange` for `.confChange` entries), serve `readStates` once applied;
//   4. call `RawNode.advance(_:)`.

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
    /// Entries known committed, to apply in order (already persisted, or in `entries` above).
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
