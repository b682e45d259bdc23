import CProtobufC
import EtcdProto

/// etcdserverpb.Member.
public struct Member: Sendable, Equatable {
    public var id: UInt64
    /// Empty until the member has started.
    public var name: String
    public var peerURLs: [String]
    public var clientURLs: [String]
    public var isLearner: Bool

    init(_ m: Etcdserverpb__Member) {
        id = m.id
        name = Proto.string(m.name)
        peerURLs = Proto.strings(m.peerurls, m.n_peerurls)
        clientURLs = Proto.strings(m.clienturls, m.n_clienturls)
        isLearner = m.islearner != 0
    }
}

public struct MemberListResponse: Sendable {
    public var header: ResponseHeader
    public var members: [Member]
}

public struct MemberAddResponse: Sendable {
    public var header: ResponseHeader
    /// The member just added.
    public var member: Member?
    public var members: [Member]
}

extension EtcdClient {
    /// Cluster.MemberList.
    public func memberList() async throws -> MemberListResponse {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__member_list_request__init)
        let bytes = try await unary("/etcdserverpb.Cluster/MemberList", Proto.pack(m), retry: .idempotent)
        return try Proto.read(bytes, etcdserverpb__member_list_response__unpack, etcdserverpb__member_list_response__free_unpacked) {
            MemberListResponse(header: ResponseHeader($0.header), members: Proto.elements($0.members, $0.n_members).map(Member.init))
        }
    }

    /// Cluster.MemberAdd of a member (a learner if `isLearner`) that will listen on `peerURLs`.
    public func memberAdd(peerURLs: [String], isLearner: Bool = false) async throws -> MemberAddResponse {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__member_add_request__init)
        m.pointee.n_peerurls = peerURLs.count
        m.pointee.peerurls = b.cStrings(peerURLs)
        m.pointee.islearner = isLearner ? 1 : 0
        let bytes = try await unary("/etcdserverpb.Cluster/MemberAdd", Proto.pack(m), retry: .once)
        return try Proto.read(bytes, etcdserverpb__member_add_response__unpack, etcdserverpb__member_add_response__free_unpacked) {
            MemberAddResponse(header: ResponseHeader($0.header), member: $0.member.map { Member($0.pointee) },
                              members: Proto.elements($0.members, $0.n_members).map(Member.init))
        }
    }

    /// Cluster.MemberRemove; the members left.
    @discardableResult
    public func memberRemove(id: UInt64) async throws -> [Member] {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__member_remove_request__init)
        m.pointee.id = id
        let bytes = try await unary("/etcdserverpb.Cluster/MemberRemove", Proto.pack(m), retry: .once)
        return try Proto.read(bytes, etcdserverpb__member_remove_response__unpack, etcdserverpb__member_remove_response__free_unpacked) {
            Proto.elements($0.members, $0.n_members).map(Member.init)
        }
    }

    /// Cluster.MemberPromote of a learner to a voting member; the members after.
    @discardableResult
    public func memberPromote(id: UInt64) async throws -> [Member] {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__member_promote_request__init)
        m.pointee.id = id
        let bytes = try await unary("/etcdserverpb.Cluster/MemberPromote", Proto.pack(m), retry: .once)
        return try Proto.read(bytes, etcdserverpb__member_promote_response__unpack, etcdserverpb__member_promote_response__free_unpacked) {
            Proto.elements($0.members, $0.n_members).map(Member.init)
        }
    }

    /// Cluster.MemberUpdate of a member's peer URLs; the members after.
    @discardableResult
    public func memberUpdate(id: UInt64, peerURLs: [String]) async throws -> [Member] {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__member_update_request__init)
        m.pointee.id = id
        m.pointee.n_peerurls = peerURLs.count
        m.pointee.peerurls = b.cStrings(peerURLs)
        let bytes = try await unary("/etcdserverpb.Cluster/MemberUpdate", Proto.pack(m), retry: .once)
        return try Proto.read(bytes, etcdserverpb__member_update_response__unpack, etcdserverpb__member_update_response__free_unpacked) {
            Proto.elements($0.members, $0.n_members).map(Member.init)
        }
    }
}
