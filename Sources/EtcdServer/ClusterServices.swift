import CProtobufC
import EtcdProto
import KeelConfig
import NIOCore
import RPC

/// etcdserverpb.Maintenance/Status and etcdserverpb.Cluster/MemberList: what `etcdctl endpoint status`
/// and `etcdctl member list` ask.
struct ClusterServices: Sendable {
    let context: ServerContext

    func register(into grpc: inout GRPCServer) {
        grpc.register("/etcdserverpb.Maintenance/Status", .unary { call, _ in status(call) })
        grpc.register("/etcdserverpb.Cluster/MemberList", .unary { call, _ in memberList(call) })
    }

    func status(_ call: ServerCall) {
        call.respond { builder in statusResponse(builder) }
    }

    private func statusResponse(_ builder: ResponseBuilder) -> UnsafeMutablePointer<Etcdserverpb__StatusResponse> {
        let arena = builder.arena
        let m = arena.message(etcdserverpb__status_response__init)
        let revision = context.store.currentRevision
        let index = context.store.consistentIndex
        m.pointee.header = builder.header(context.header(revision: revision))
        m.pointee.version = arena.cString(KeelVersion.etcdVersion)
        let size = context.store.backend.sizeInUse
        m.pointee.dbsize = size
        m.pointee.dbsizeinuse = size
        m.pointee.leader = context.memberID  // a single member leads itself
        m.pointee.raftindex = index
        m.pointee.raftterm = context.pipeline.term
        m.pointee.raftappliedindex = index
        if context.store.backend.isNoSpaceAlarmRaised {
            let errors = arena.allocate(UnsafeMutablePointer<CChar>?.self, count: 1)
            errors[0] = arena.cString("memberID:\(context.memberID) alarm:NOSPACE ")
            m.pointee.n_errors = 1
            m.pointee.errors = errors
        }
        return m
    }

    func memberList(_ call: ServerCall) {
        call.respond { builder in memberListResponse(builder) }
    }

    private func memberListResponse(_ builder: ResponseBuilder) -> UnsafeMutablePointer<Etcdserverpb__MemberListResponse> {
        let arena = builder.arena
        let m = arena.message(etcdserverpb__member_list_response__init)
        m.pointee.header = builder.header(context.header(revision: context.store.currentRevision))
        let list = arena.pointerArray(of: Etcdserverpb__Member.self, count: context.members.count)
        for (i, member) in context.members.enumerated() {
            let p = arena.message(etcdserverpb__member__init)
            p.pointee.id = member.id
            p.pointee.name = arena.cString(member.name)
            (p.pointee.n_peerurls, p.pointee.peerurls) = strings(member.peerURLs, arena)
            (p.pointee.n_clienturls, p.pointee.clienturls) = strings(member.clientURLs, arena)
            list[i] = p
        }
        m.pointee.n_members = context.members.count
        m.pointee.members = list
        return m
    }

    private func strings(_ values: [String], _ arena: ProtoArena) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        guard !values.isEmpty else { return (0, nil) }
        let list = arena.allocate(UnsafeMutablePointer<CChar>?.self, count: values.count)
        for (i, v) in values.enumerated() { list[i] = arena.cString(v) }
        return (values.count, list)
    }
}
