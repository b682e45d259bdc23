// Folds decoded records, in log order, into the state Raft restarts from.
//
// Entry rules: a later entry at index i replaces every earlier entry >= i (a new leader
// overwrote an uncommitted tail). Entries at or below the snapshot mark are dropped.
// Missing indices are tolerated only while they may still be covered by a later snapshot
// mark (released segments leave such a hole before the mark); `finish` checks that.

struct ReplayBuilder {
    var metadata: [UInt8]?
    var hardState: WALHardState?
    var mark: WALSnapshotMark?
    /// Seq of the oldest segment holding a record equal to the final mark.
    var markSegment: UInt64?
    var entries: [WALEntry] = []
    /// Highest index known to be missing; must end up covered by the mark.
    private var gapTop: UInt64 = 0
    private var gapFile = ""
    private var gapOffset = 0

    var markIndex: UInt64 { mark?.index ?? 0 }
    var lastIndex: UInt64 { entries.last?.index ?? markIndex }

    /// Throws `.corrupt` when a record that passed its CRC is still inconsistent.
    mutating func apply(_ type: RecordType, _ payload: UnsafeRawBufferPointer, segment: UInt64,
                        file: String, offset: Int) throws {
        func bad(_ reason: String) -> WALError { .corrupt(file: file, offset: offset, reason: reason) }
        switch type {
        case .segmentInfo:
            throw bad("segment header record in the middle of a segment")
        case .metadata:
            let m = [UInt8](payload)
            if let metadata, metadata != m { throw bad("metadata differs from the first segment's") }
            metadata = m
        case .hardState:
            guard let h = RecordDecoder.hardState(payload) else { throw bad("hard state payload size \(payload.count)") }
            hardState = h
        case .snapshotMark:
            guard let m = RecordDecoder.snapshotMark(payload) else { throw bad("snapshot mark payload size \(payload.count)") }
            applyMark(m, segment: segment)
        case .entry:
            guard let e = RecordDecoder.entry(payload) else { throw bad("entry payload size \(payload.count)") }
            applyEntry(e, file: file, offset: offset)
        }
    }

    private mutating func applyMark(_ m: WALSnapshotMark, segment: UInt64) {
        if let mark, m.index < mark.index { return }  // an older mark never moves us back
        if mark != m { markSegment = segment }
        mark = m
        guard let first = entries.first?.index, first <= m.index else { return }
        let drop = Int(min(m.index - first + 1, UInt64(entries.count)))
        entries.removeFirst(drop)
    }

    private mutating func applyEntry(_ e: WALEntry, file: String, offset: Int) {
        if e.index <= markIndex { return }  // already covered by the snapshot
        let expected = lastIndex + 1
        if e.index > expected {
            // A hole. Legal only if a later mark covers it; everything before it is dropped.
            if e.index - 1 > gapTop { gapTop = e.index - 1; gapFile = file; gapOffset = offset }
            entries.removeAll(keepingCapacity: true)
            entries.append(e)
            return
        }
        if let first = entries.first?.index, e.index < first {
            entries.removeAll(keepingCapacity: true)
        } else if let first = entries.first?.index {
            entries.removeLast(entries.count - Int(e.index - first))  // overwrite: cut the tail
        }
        entries.append(e)
    }

    func finish(repair: WALRepair?) throws -> WALReplay {
        if gapTop > markIndex {
            throw WALError.corrupt(file: gapFile, offset: gapOffset,
                                   reason: "entries up to index \(gapTop) are missing (snapshot mark \(markIndex))")
        }
        return WALReplay(metadata: metadata ?? [], hardState: hardState, snapshot: mark, entries: entries, repair: repair)
    }
}
