// Compact binary encoding for the values the WAL and the peer transport carry.
//
// Layout: every top-level value starts with a format version byte (currently 1), then its fields
// in a fixed order as unsigned LEB128 varints; byte strings are a varint length plus the bytes.
// Decoding is bounds-checked everywhere and throws `RaftCodecError`; it never traps, and it never
// allocates more than the input could possibly describe.

public enum RaftCodecError: Error, Equatable, Sendable {
    case truncated
    case varintOverflow
    case unsupportedVersion(UInt8)
    case invalidEnum(field: String, value: UInt64)
    case trailingBytes(Int)
}

public let raftCodecVersion: UInt8 = 1

/// Appends encoded fields to a byte array (reused by callers to avoid per-value allocations).
public struct RaftWriter {
    public var bytes: [UInt8]

    public init(reservingCapacity n: Int = 64) {
        bytes = []
        bytes.reserveCapacity(n)
    }

    @inlinable public mutating func writeByte(_ b: UInt8) { bytes.append(b) }

    @inlinable public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inlinable public mutating func writeBool(_ b: Bool) { bytes.append(b ? 1 : 0) }

    @inlinable public mutating func writeBytes(_ b: [UInt8]) {
        writeVarint(UInt64(b.count))
        bytes.append(contentsOf: b)
    }
}

/// Reads fields back, checking every length against what remains.
public struct RaftReader {
    public let bytes: [UInt8]
    public private(set) var position: Int

    public init(_ bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var remaining: Int { bytes.count - position }

    public mutating func readByte() throws(RaftCodecError) -> UInt8 {
        guard position < bytes.count else { throw .truncated }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func readVarint() throws(RaftCodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try readByte()
            // The 10th byte may only carry the single top bit of a UInt64.
            if shift == 63 && b > 1 { throw .varintOverflow }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .varintOverflow }
        }
    }

    public mutating func readBool() throws(RaftCodecError) -> Bool {
        let b = try readByte()
        guard b <= 1 else { throw .invalidEnum(field: "bool", value: UInt64(b)) }
        return b == 1
    }

    public mutating func readBytes() throws(RaftCodecError) -> [UInt8] {
        let n = try readVarint()
        guard n <= UInt64(remaining) else { throw .truncated }
        let start = position
        position += Int(n)
        return Array(bytes[start..<position])
    }

    /// A count of items that each need at least `minItemSize` bytes; rejects counts the input cannot hold.
    public mutating func readCount(minItemSize: Int) throws(RaftCodecError) -> Int {
        let n = try readVarint()
        guard n <= UInt64(remaining / max(minItemSize, 1)) else { throw .truncated }
        return Int(n)
    }

    public mutating func readVersion() throws(RaftCodecError) {
        let v = try readByte()
        guard v == raftCodecVersion else { throw .unsupportedVersion(v) }
    }

    public func expectEnd() throws(RaftCodecError) {
        guard remaining == 0 else { throw .trailingBytes(remaining) }
    }
}

/// A value with a versioned binary form.
public protocol RaftEncodable {
    /// Fields only, no version byte (used when nested).
    func writeFields(to w: inout RaftWriter)
    static func readFields(from r: inout RaftReader) throws(RaftCodecError) -> Self
}

extension RaftEncodable {
    /// Version byte plus fields.
    public func encoded() -> [UInt8] {
        var w = RaftWriter()
        w.writeByte(raftCodecVersion)
        writeFields(to: &w)
        return w.bytes
    }

    /// Appends version byte plus fields to `w` (for framing many values into one buffer).
    public func encode(to w: inout RaftWriter) {
        w.writeByte(raftCodecVersion)
        writeFields(to: &w)
    }

    /// Decodes exactly one value from `bytes`; trailing bytes are an error.
    public static func decode(_ bytes: [UInt8]) throws(RaftCodecError) -> Self {
        var r = RaftReader(bytes)
        let v = try decode(from: &r)
        try r.expectEnd()
        return v
    }

    /// Decodes one value (version byte plus fields) from the reader's position.
    public static func decode(from r: inout RaftReader) throws(RaftCodecError) -> Self {
        try r.readVersion()
        return try readFields(from: &r)
    }
}

extension Entry: RaftEncodable {
    /// Smallest possible encoded entry: term, index, type, empty data (1 byte each).
    static let minEncodedSize = 4

    public func writeFields(to w: inout RaftWriter) {
        w.writeVarint(term)
        w.writeVarint(index)
        w.writeByte(type.rawValue)
        w.writeBytes(data)
    }

    public static func readFields(from r: inout RaftReader) throws(RaftCodecError) -> Entry {
        let term = try r.readVarint()
        let index = try r.readVarint()
        let t = try r.readByte()
        guard let type = EntryType(rawValue: t) else { throw .invalidEnum(field: "Entry.type", value: UInt64(t)) }
        let data = try r.readBytes()
        return Entry(term: term, index: index, type: type, data: data)
    }
}

extension HardState: RaftEncodable {
    public func writeFields(to w: inout RaftWriter) {
        w.writeVarint(term)
        w.writeVarint(vote)
        w.writeVarint(commit)
    }

    public static func readFields(from r: inout RaftReader) throws(RaftCodecError) -> HardState {
        HardState(term: try r.readVarint(), vote: try r.readVarint(), commit: try r.readVarint())
    }
}

extension ConfState: RaftEncodable {
    public func writeFields(to w: inout RaftWriter) {
        w.writeVarint(UInt64(voters.count))
        for v in voters { w.writeVarint(v) }
        w.writeVarint(UInt64(learners.count))
        for l in learners { w.writeVarint(l) }
    }

    public static func readFields(from r: inout RaftReader) throws(RaftCodecError) -> ConfState {
        let nv = try r.readCount(minItemSize: 1)
        var voters: [UInt64] = []
        voters.reserveCapacity(nv)
        for _ in 0..<nv { voters.append(try r.readVarint()) }
        let nl = try r.readCount(minItemSize: 1)
        var learners: [UInt64] = []
        learners.reserveCapacity(nl)
        for _ in 0..<nl { learners.append(try r.readVarint()) }
        return ConfState(voters: voters, learners: learners)
    }
}

extension Snapshot: RaftEncodable {
    public func writeFields(to w: inout RaftWriter) {
        w.writeVarint(metadata.index)
        w.writeVarint(metadata.term)
        metadata.confState.writeFields(to: &w)
        w.writeBytes(data)
    }

    public static func readFields(from r: inout RaftReader) throws(RaftCodecError) -> Snapshot {
        let index = try r.readVarint()
        let term = try r.readVarint()
        let cs = try ConfState.readFields(from: &r)
        let data = try r.readBytes()
        return Snapshot(metadata: SnapshotMetadata(index: index, term: term, confState: cs), data: data)
    }
}

extension ConfChange: RaftEncodable {
    public func writeFields(to w: inout RaftWriter) {
        w.writeByte(type.rawValue)
        w.writeVarint(nodeID)
        w.writeBytes(context)
    }

    public static func readFields(from r: inout RaftReader) throws(RaftCodecError) -> ConfChange {
        let t = try r.readByte()
        guard let type = ConfChangeType(rawValue: t) else {
            throw .invalidEnum(field: "ConfChange.type", value: UInt64(t))
        }
        return ConfChange(type: type, nodeID: try r.readVarint(), context: try r.readBytes())
    }
}

extension Message: RaftEncodable {
    public func writeFields(to w: inout RaftWriter) {
        w.writeByte(type.rawValue)
        w.writeVarint(to)
        w.writeVarint(from)
        w.writeVarint(term)
        w.writeVarint(logTerm)
        w.writeVarint(index)
        w.writeVarint(commit)
        w.writeBool(reject)
        w.writeVarint(rejectHint)
        w.writeBytes(context)
        w.writeVarint(UInt64(entries.count))
        for e in entries { e.writeFields(to: &w) }
        if let s = snapshot {
            w.writeBool(true)
            s.writeFields(to: &w)
        } else {
            w.writeBool(false)
        }
    }

    public static func readFields(from r: inout RaftReader) throws(RaftCodecError) -> Message {
        let t = try r.readByte()
        guard let type = MessageType(rawValue: t) else { throw .invalidEnum(field: "Message.type", value: UInt64(t)) }
        var m = Message(type: type)
        m.to = try r.readVarint()
        m.from = try r.readVarint()
        m.term = try r.readVarint()
        m.logTerm = try r.readVarint()
        m.index = try r.readVarint()
        m.commit = try r.readVarint()
        m.reject = try r.readBool()
        m.rejectHint = try r.readVarint()
        m.context = try r.readBytes()
        let n = try r.readCount(minItemSize: Entry.minEncodedSize)
        m.entries.reserveCapacity(n)
        for _ in 0..<n { m.entries.append(try Entry.readFields(from: &r)) }
        if try r.readBool() { m.snapshot = try Snapshot.readFields(from: &r) }
        return m
    }
}
