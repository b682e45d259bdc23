// The log storage Raft reads from. The application writes to it (from `Ready`); Raft only reads.

/// Stable storage of the Raft log, hard state and latest snapshot.
///
/// Index conventions (as in etcd): entries `firstIndex...lastIndex` are readable; `firstIndex - 1` is the
/// index of the latest snapshot, whose term `term(firstIndex - 1)` must still answer.
public protocol Storage: AnyObject {
    /// The persisted hard state and the membership as of the latest snapshot (`firstIndex - 1`).
    func initialState() throws -> (HardState, ConfState)
    /// Entries in `lo..<hi`, at least one if any exist, then trimmed to at most `maxSize` bytes.
    /// Throws `RaftError.compacted` when `lo <= firstIndex - 1`, `.unavailable` when past the end.
    func entries(_ lo: UInt64, _ hi: UInt64, maxSize: UInt64) throws -> [Entry]
    /// Term of entry `i`, for `firstIndex - 1 ... lastIndex`; `.compacted` / `.unavailable` otherwise.
    func term(_ i: UInt64) throws -> UInt64
    func firstIndex() throws -> UInt64
    func lastIndex() throws -> UInt64
    /// The latest snapshot; `.snapshotTemporarilyUnavailable` if it is being produced.
    func snapshot() throws -> Snapshot
}

/// Keeps the first entries of `ents` whose total `byteSize` fits in `maxSize`, always at least one.
func limitSize(_ ents: [Entry], _ maxSize: UInt64) -> [Entry] {
    guard ents.count > 1 else { return ents }
    var size = ents[0].byteSize
    var n = 1
    while n < ents.count {
        size += ents[n].byteSize
        if size > maxSize { break }
        n += 1
    }
    return n == ents.count ? ents : Array(ents[0..<n])
}

/// An in-memory `Storage`, used by tests, the simulation and the benchmark.
///
/// `entries[0]` is a dummy holding the snapshot's index and term, so `term(firstIndex - 1)` works.
public final class MemoryStorage: Storage {
    public private(set) var hardState = HardState()
    public private(set) var currentSnapshot = Snapshot()
    private var ents: [Entry] = [Entry()]

    public init() {}

    /// A storage for a founding member of a new cluster: a snapshot at index 1, term 1 that holds the
    /// initial membership. Nodes that join later start from an empty `MemoryStorage()` and receive a
    /// snapshot from the leader (whose first index is therefore always at least 2).
    public static func bootstrap(voters: [UInt64]) -> MemoryStorage {
        precondition(!voters.isEmpty, "a cluster needs at least one voter")
        let s = MemoryStorage()
        let snap = Snapshot(metadata: SnapshotMetadata(index: 1, term: 1, confState: ConfState(voters: voters)))
        try! s.applySnapshot(snap)
        s.setHardState(HardState(term: 1, vote: 0, commit: 1))
        return s
    }

    public func initialState() throws -> (HardState, ConfState) {
        (hardState, currentSnapshot.metadata.confState)
    }

    public func setHardState(_ hs: HardState) { hardState = hs }

    private var offset: UInt64 { ents[0].index }

    public func firstIndex() throws -> UInt64 { offset + 1 }
    public func lastIndex() throws -> UInt64 { offset + UInt64(ents.count) - 1 }

    public func term(_ i: UInt64) throws -> UInt64 {
        guard i >= offset else { throw RaftError.compacted }
        guard i - offset < UInt64(ents.count) else { throw RaftError.unavailable }
        return ents[Int(i - offset)].term
    }

    public func entries(_ lo: UInt64, _ hi: UInt64, maxSize: UInt64) throws -> [Entry] {
        guard lo > offset else { throw RaftError.compacted }
        let last = try lastIndex()
        guard hi <= last + 1 else { throw RaftError.unavailable }
        guard ents.count > 1 else { throw RaftError.unavailable }
        precondition(lo <= hi, "entries(\(lo), \(hi)): inverted range")
        return limitSize(Array(ents[Int(lo - offset)..<Int(hi - offset)]), maxSize)
    }

    public func snapshot() throws -> Snapshot { currentSnapshot }

    /// Replaces the whole log with `snap` (a follower installing the leader's snapshot).
    public func applySnapshot(_ snap: Snapshot) throws {
        guard snap.metadata.index > currentSnapshot.metadata.index else { throw RaftError.snapshotOutOfDate }
        currentSnapshot = snap
        ents = [Entry(term: snap.metadata.term, index: snap.metadata.index)]
    }

    /// Records a snapshot of the application state as of `index` (which must be applied, hence in the log).
    @discardableResult
    public func createSnapshot(index: UInt64, confState: ConfState, data: [UInt8]) throws -> Snapshot {
        guard index > currentSnapshot.metadata.index else { throw RaftError.snapshotOutOfDate }
        let last = try lastIndex()
        precondition(index <= last, "createSnapshot(\(index)) is past lastIndex \(last)")
        let snap = Snapshot(metadata: SnapshotMetadata(index: index, term: try term(index), confState: confState),
                            data: data)
        currentSnapshot = snap
        return snap
    }

    /// Drops entries before `compactIndex`; `compactIndex` becomes the new dummy entry.
    public func compact(_ compactIndex: UInt64) throws {
        guard compactIndex > offset else { throw RaftError.compacted }
        let last = try lastIndex()
        precondition(compactIndex <= last, "compact(\(compactIndex)) is past lastIndex \(last)")
        let i = Int(compactIndex - offset)
        var kept: [Entry] = [Entry(term: ents[i].term, index: ents[i].index)]
        kept.reserveCapacity(ents.count - i)
        kept.append(contentsOf: ents[(i + 1)...])
        ents = kept
    }

    /// Appends entries, replacing any existing suffix they conflict with. Entries at or below the
    /// snapshot are ignored; a gap after the last entry is a caller bug.
    public func append(_ entries: [Entry]) throws {
        guard let firstNew = entries.first?.index, let lastNew = entries.last?.index else { return }
        let first = try firstIndex()
        guard lastNew >= first else { return }
        var es = entries[...]
        if firstNew < first { es = es.dropFirst(Int(first - firstNew)) }
        let start = es.first!.index
        let ofs = start - offset
        precondition(ofs <= UInt64(ents.count), "missing log entry [last: \(offset + UInt64(ents.count) - 1), append at: \(start)]")
        if ofs < UInt64(ents.count) { ents.removeSubrange(Int(ofs)...) }
        ents.append(contentsOf: es)
    }
}
