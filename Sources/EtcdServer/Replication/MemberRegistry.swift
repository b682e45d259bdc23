import Backend
import NIOConcurrencyHelpers
import Raft

/// One cluster member as `member list` shows it.
struct MemberInfo: Sendable, Equatable {
    var id: UInt64
    var name: String
    var peerURLs: [String]
    var clientURLs: [String]
    var isLearner: Bool

    func encoded() -> [UInt8] {
        var w = RaftWriter()
        w.writeByte(1)
        w.writeVarint(id)
        w.writeBytes(Array(name.utf8))
        w.writeVarint(UInt64(peerURLs.count))
        for u in peerURLs { w.writeBytes(Array(u.utf8)) }
        w.writeVarint(UInt64(clientURLs.count))
        for u in clientURLs { w.writeBytes(Array(u.utf8)) }
        w.writeBool(isLearner)
        return w.bytes
    }

    static func decode(from r: inout RaftReader) throws(RaftCodecError) -> MemberInfo {
        let version = try r.readByte()
        guard version == 1 else { throw .unsupportedVersion(version) }
        let id = try r.readVarint()
        let name = String(decoding: try r.readBytes(), as: UTF8.self)
        var peers: [String] = []
        for _ in 0..<(try r.readCount(minItemSize: 1)) { peers.append(String(decoding: try r.readBytes(), as: UTF8.self)) }
        var clients: [String] = []
        for _ in 0..<(try r.readCount(minItemSize: 1)) { clients.append(String(decoding: try r.readBytes(), as: UTF8.self)) }
        let learner = try r.readBool()
        return MemberInfo(id: id, name: name, peerURLs: peers, clientURLs: clients, isLearner: learner)
    }

    static func decode(_ bytes: [UInt8]) throws(RaftCodecError) -> MemberInfo {
        var r = RaftReader(bytes)
        let m = try decode(from: &r)
        try r.expectEnd()
        return m
    }
}

/// What a membership change entry carries besides Raft's own ConfChange: who asked (so the proposer's
/// waiter completes) and the member as it joins (its peer URLs), as etcd puts a Member in the context.
struct ConfChangeContext: Sendable, Equatable {
    var requestID: UInt64
    var member: MemberInfo

    func encoded() -> [UInt8] {
        var w = RaftWriter()
        w.writeByte(1)
        w.writeVarint(requestID)
        w.bytes.append(contentsOf: member.encoded())
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(RaftCodecError) -> ConfChangeContext {
        var r = RaftReader(bytes)
        let version = try r.readByte()
        guard version == 1 else { throw .unsupportedVersion(version) }
        let id = try r.readVarint()
        let m = try MemberInfo.decode(from: &r)
        try r.expectEnd()
        return ConfChangeContext(requestID: id, member: m)
    }
}

/// The cluster's members as of the applied index, kept in memory for readers and in the backend's
/// members bucket (so a snapshot image carries them). Changed only by the applier, in log order, so
/// every member holds the same list. Removed ids are remembered: their messages are refused.
final class MemberRegistry: Sendable {
    private struct State {
        var members: [UInt64: MemberInfo] = [:]
        var removed: Set<UInt64> = []
    }
    private let state = NIOLockedValueBox(State())
    private static let removedPrefix: [UInt8] = [0xFF]

    init() {}

    var all: [MemberInfo] { state.withLockedValue { $0.members.values.sorted { $0.id < $1.id } } }
    func member(_ id: UInt64) -> MemberInfo? { state.withLockedValue { $0.members[id] } }
    func isRemoved(_ id: UInt64) -> Bool { state.withLockedValue { $0.removed.contains(id) } }

    /// Reloads from the backend (start-up, and after a snapshot image replaced the backend's contents).
    func load(from backend: Backend) throws {
        var s = State()
        try backend.read { tx in
            try tx.scan(.members, from: []) { k, v in
                if k.count == 9, k.first == Self.removedPrefix[0] {
                    s.removed.insert(k.dropFirst().reduce(0) { $0 << 8 | UInt64($1) })
                } else if let m = try? MemberInfo.decode(Array(v)) {
                    s.members[m.id] = m
                }
                return true
            }
        }
        state.withLockedValue { $0 = s }
    }

    /// Adds or replaces a member, durably (backend transaction) and in memory.
    func upsert(_ m: MemberInfo, backend: Backend) throws {
        try backend.write { tx in try tx.put(.members, Self.key(m.id), m.encoded()) }
        state.withLockedValue { $0.members[m.id] = m }
    }

    func remove(_ id: UInt64, backend: Backend) throws {
        try backend.write { tx in
            _ = try tx.delete(.members, Self.key(id))
            try tx.put(.members, Self.removedPrefix + Self.key(id), [])
        }
        state.withLockedValue {
            $0.members.removeValue(forKey: id)
            $0.removed.insert(id)
        }
    }

    private static func key(_ id: UInt64) -> [UInt8] {
        withUnsafeBytes(of: id.bigEndian) { Array($0) }
    }
}

/// What `/keel.raft.Peer/Members` answers: enough for a joining member to find its id and its peers.
struct ClusterDescription: Sendable, Equatable {
    var clusterID: UInt64
    var members: [MemberInfo]

    func encoded() -> [UInt8] {
        var w = RaftWriter()
        w.writeByte(1)
        w.writeVarint(clusterID)
        w.writeVarint(UInt64(members.count))
        for m in members { w.writeBytes(m.encoded()) }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(RaftCodecError) -> ClusterDescription {
        var r = RaftReader(bytes)
        let version = try r.readByte()
        guard version == 1 else { throw .unsupportedVersion(version) }
        let id = try r.readVarint()
        var members: [MemberInfo] = []
        for _ in 0..<(try r.readCount(minItemSize: 1)) { members.append(try MemberInfo.decode(try r.readBytes())) }
        try r.expectEnd()
        return ClusterDescription(clusterID: id, members: members)
    }
}
