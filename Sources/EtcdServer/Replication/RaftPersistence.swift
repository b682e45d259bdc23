import Foundation
import Raft
import WAL

/// Raft's log, hard state and snapshot marks in the WAL, plus the membership at each snapshot in a
/// `.snap` file under member/snap (etcd keeps its raft snapshots there too). The log in memory is a
/// `MemoryStorage` refilled from the WAL at start-up, as etcd's raft.MemoryStorage is.
enum RaftPersistence {
    static func walEntry(_ e: Entry) -> WALEntry {
        WALEntry(term: e.term, index: e.index, kind: e.type.rawValue, data: e.data)
    }

    static func entry(_ e: WALEntry) throws -> Entry {
        guard let type = EntryType(rawValue: e.kind) else {
            throw KeelServer.StartupError("WAL entry \(e.index) has unknown type \(e.kind)")
        }
        return Entry(term: e.term, index: e.index, type: type, data: e.data)
    }

    static func walHardState(_ hs: HardState) -> WALHardState {
        WALHardState(term: hs.term, vote: hs.vote, commit: hs.commit)
    }

    /// What a restart recovers: the storage Raft reads and the snapshot the log starts from.
    struct Recovered {
        let storage: MemoryStorage
        let snapshot: SnapshotMetadata
    }

    /// Rebuilds Raft's storage from what `WAL.open` replayed and the snapshot files.
    static func recover(replay: WALReplay, snapDir: String) throws -> Recovered {
        let storage = MemoryStorage()
        var snapMeta = SnapshotMetadata()
        if let mark = replay.snapshot, mark.index > 0 {
            let conf = try loadConfState(snapDir: snapDir, index: mark.index, term: mark.term)
            snapMeta = SnapshotMetadata(index: mark.index, term: mark.term, confState: conf)
            try storage.applySnapshot(Snapshot(metadata: snapMeta))
        }
        var entries: [Entry] = []
        entries.reserveCapacity(replay.entries.count)
        for e in replay.entries where e.index > snapMeta.index { entries.append(try entry(e)) }
        try storage.append(entries)
        if let hs = replay.hardState {
            // The commit index can't be beyond what the log holds (a hard state written before its
            // entries were all synced is impossible: both go in one record batch and one sync).
            let last = try storage.lastIndex()
            storage.setHardState(HardState(term: hs.term, vote: hs.vote, commit: min(hs.commit, last)))
        }
        return Recovered(storage: storage, snapshot: snapMeta)
    }

    /// A member joining an existing cluster starts from nothing: a mark at index 0 says "initialized,
    /// no snapshot yet"; the leader sends one.
    static let joinMark = WALSnapshotMark(index: 0, term: 0)

    /// Writes the membership at a snapshot index durably, before the WAL's snapshot mark refers to it.
    static func saveConfState(snapDir: String, index: UInt64, term: UInt64, conf: ConfState) throws {
        _ = try SnapshotFile.save(directory: snapDir, index: index, term: term, data: conf.encoded())
    }

    static func loadConfState(snapDir: String, index: UInt64, term: UInt64) throws -> ConfState {
        let s = try SnapshotFile.load(directory: snapDir, index: index, term: term)
        return try decodeConf(s.data, s.path)
    }

    private static func decodeConf(_ data: [UInt8], _ path: String) throws -> ConfState {
        do { return try ConfState.decode(data) } catch {
            throw KeelServer.StartupError("snapshot file \(path) holds no membership: \(error)")
        }
    }

    /// The state-machine image received with a snapshot at `index`, kept until it is installed (a
    /// restart in between installs it from here, as etcd does with its "<index>.snap.db").
    static func imagePath(snapDir: String, index: UInt64) -> String {
        snapDir + "/" + String(index, radix: 16) + ".snap.db"
    }
}
