import CProtobufC
import EtcdProto
import Foundation
import KeelConfig
import MVCC
import NIOCore
import Raft
import RPC

/// etcdserverpb.Cluster (MemberList/Add/Remove/Update/Promote) and Maintenance/Status and MoveLeader:
/// what `etcdctl member …`, `endpoint status` and `move-leader` ask. Membership changes go through
/// Raft as conf changes and are answered once applied here, with the member list as of then.
struct ClusterServices: Sendable {
    let context: ServerContext

    func register(into grpc: inout GRPCServer) {
        grpc.register("/etcdserverpb.Maintenance/Status", .unary { call, _ in status(call) })
        grpc.register("/etcdserverpb.Maintenance/MoveLeader", .unary { call, request in moveLeader(call, request) })
        grpc.register("/etcdserverpb.Cluster/MemberList", .unary { call, _ in memberList(call) })
        grpc.register("/etcdserverpb.Cluster/MemberAdd", .unary { call, request in admin(call) { memberAdd(call, request) } })
        grpc.register("/etcdserverpb.Cluster/MemberRemove", .unary { call, request in admin(call) { memberRemove(call, request) } })
        grpc.register("/etcdserverpb.Cluster/MemberUpdate", .unary { call, request in admin(call) { memberUpdate(call, request) } })
        grpc.register("/etcdserverpb.Cluster/MemberPromote", .unary { call, request in admin(call) { memberPromote(call, request) } })
    }

    static let memberNotFound = EtcdServerError(.notFound, "etcdserver: member not found")
    static let peerURLExists = EtcdServerError(.failedPrecondition, "etcdserver: Peer URLs already exists")
    static let unhealthy = EtcdServerError(.unavailable, "etcdserver: unhealthy cluster")
    static let notEnoughStarted = EtcdServerError(.failedPrecondition,
                                                  "etcdserver: re-configuration failed due to not enough started members")
    static let notLearner = EtcdServerError(.failedPrecondition, "etcdserver: can only promote a learner member")
    static let learnerNotReady = EtcdServerError(.failedPrecondition,
                                                 "etcdserver: can only promote a learner member which is in sync with leader")
    static let notLeader = EtcdServerError(.failedPrecondition, "etcdserver: not leader")
    static let badTransferee = EtcdServerError(.failedPrecondition, "etcdserver: bad leader transferee")
    static let transferTimeout = EtcdServerError(.unavailable, "etcdserver: request timed out, leader transfer took too long")
    static let tooManyLearners = EtcdServerError(.failedPrecondition, "etcdserver: too many learner members in cluster")

    // MARK: Status

    /// etcd's checkMembershipOperationPermission: membership changes need the root role.
    private func admin(_ call: ServerCall, _ body: @escaping @Sendable () -> Void) {
        context.auth.asAdmin(call, raft: context.raft, body)
    }

    func status(_ call: ServerCall) {
        let context = self.context
        call.respond { builder in
            let arena = builder.arena
            let m = arena.message(etcdserverpb__status_response__init)
            let published = context.published
            m.pointee.header = builder.header(context.header(revision: context.store.currentRevision))
            m.pointee.version = arena.cString(KeelVersion.etcdVersion)
            m.pointee.dbsize = Int64((try? context.store.backend.fileSize()) ?? 0)
            m.pointee.dbsizeinuse = context.store.backend.sizeInUse
            m.pointee.leader = published.lead
            m.pointee.raftindex = published.committed
            m.pointee.raftterm = published.term
            m.pointee.raftappliedindex = published.applied
            m.pointee.islearner = published.isLearner ? 1 : 0
            if context.store.backend.isNoSpaceAlarmRaised {
                let errors = arena.allocate(UnsafeMutablePointer<CChar>?.self, count: 1)
                errors[0] = arena.cString("memberID:\(context.memberID) alarm:NOSPACE ")
                m.pointee.n_errors = 1
                m.pointee.errors = errors
            }
            return m
        }
    }

    // MARK: Members

    func memberList(_ call: ServerCall) {
        let context = self.context
        Self.respondWithMembers(call, context.members.all, context: context, etcdserverpb__member_list_response__init,
                                header: \.header, count: \.n_members, members: \.members)
    }

    func memberAdd(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            let (urls, isLearner) = try decode(request, Descriptors.shared.memberAddRequest, Etcdserverpb__MemberAddRequest.self) { m in
                (Self.strings(m.pointee.n_peerurls, m.pointee.peerurls), m.pointee.islearner != 0)
            }
            guard !urls.isEmpty else { throw EtcdServerError(.invalidArgument, "etcdserver: member peer URLs are not provided") }
            let canonical = try Self.canonicalPeerURLs(urls)
            let existing = context.members.all
            let taken = Set(existing.flatMap(\.peerURLs))
            if canonical.contains(where: taken.contains) { throw Self.peerURLExists }
            if isLearner && existing.filter(\.isLearner).count >= 1 { throw Self.tooManyLearners }
            if !isLearner && context.strictReconfigCheck {
                // etcd's IsReadyToAddVotingMember: with the new (not yet started) voter, the started voters
                // must still be a quorum — except 1 → 2, which etcd allows (restoring a cluster's data).
                let voters = existing.filter { !$0.isLearner }
                let started = voters.filter { !$0.name.isEmpty }.count
                let members = voters.count + 1
                if !(started == 1 && members == 2) && started < members / 2 + 1 { throw Self.notEnoughStarted }
            }
            let id = InitialCluster.memberID(peerURLs: canonical, unixSeconds: Int64(Date().timeIntervalSince1970))
            let member = MemberInfo(id: id, name: "", peerURLs: canonical, clientURLs: [], isLearner: isLearner)
            // A new voter joins Raft as a learner and the leader promotes it once it has caught up (RaftLoop):
            // etcd's clients see a voter at once, and the cluster's quorum does not wait on a member that
            // has not started yet (in etcd, `member add` to a 1-member cluster stops it until the new one runs).
            proposeChange(call, ConfChange(type: .addLearnerNode, nodeID: id), member: member) { list in
                call.respond { builder in
                    let m = builder.arena.message(etcdserverpb__member_add_response__init)
                    m.pointee.header = builder.header(context.header(revision: context.store.currentRevision))
                    m.pointee.member = Self.member(member, builder.arena)
                    (m.pointee.n_members, m.pointee.members) = Self.members(list, builder.arena)
                    return m
                }
            }
        } catch {
            call.fail(error)
        }
    }

    func memberRemove(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            let id = try decode(request, Descriptors.shared.memberRemoveRequest, Etcdserverpb__MemberRemoveRequest.self) { $0.pointee.id }
            guard let member = context.members.member(id) else { throw Self.memberNotFound }
            if !member.isLearner && context.strictReconfigCheck {
                // etcd's isReadyToRemoveVotingMember: the started voters left must be a quorum.
                let voters = context.members.all.filter { !$0.isLearner && $0.id != id }
                let started = voters.filter { !$0.name.isEmpty }.count
                if voters.isEmpty || started < voters.count / 2 + 1 { throw Self.notEnoughStarted }
            }
            proposeChange(call, ConfChange(type: .removeNode, nodeID: id), member: member) { list in
                Self.respondWithMembers(call, list, context: context, etcdserverpb__member_remove_response__init,
                                        header: \.header, count: \.n_members, members: \.members)
            }
        } catch {
            call.fail(error)
        }
    }

    func memberPromote(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            let id = try decode(request, Descriptors.shared.memberPromoteRequest, Etcdserverpb__MemberPromoteRequest.self) { $0.pointee.id }
            guard let member = context.members.member(id) else { throw Self.memberNotFound }
            guard member.isLearner else { throw Self.notLearner }
            // Only the leader knows how far the learner got: a follower hands the call over (etcd forwards
            // it over the peer API; we call the leader's client URL with the same request).
            guard context.published.isLeader else { return LeaderChannel.forward(call, "/etcdserverpb.Cluster/MemberPromote", request, context: context) }
            // etcd's isLearnerReady: the learner's log has at least 90% of the leader's.
            guard let ready = context.raft.learnerIsReady(id), ready else { throw Self.learnerNotReady }
            proposeChange(call, ConfChange(type: .addNode, nodeID: id), member: member) { list in
                Self.respondWithMembers(call, list, context: context, etcdserverpb__member_promote_response__init,
                                        header: \.header, count: \.n_members, members: \.members)
            }
        } catch {
            call.fail(error)
        }
    }

    func memberUpdate(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            let (id, urls) = try decode(request, Descriptors.shared.memberUpdateRequest, Etcdserverpb__MemberUpdateRequest.self) { m in
                (m.pointee.id, Self.strings(m.pointee.n_peerurls, m.pointee.peerurls))
            }
            guard context.members.member(id) != nil else { throw Self.memberNotFound }
            let canonical = try Self.canonicalPeerURLs(urls)
            let taken = Set(context.members.all.filter { $0.id != id }.flatMap(\.peerURLs))
            if canonical.contains(where: taken.contains) { throw Self.peerURLExists }
            let requestID = context.nextRequestID()
            let data = MemberRequests.peerURLs(memberID: id, peerURLs: canonical.sorted(), requestID: requestID)
            if let error = context.raft.propose(data, id: requestID, on: call.eventLoop, done: { outcome in
                if case .failed(let e) = outcome { return call.fail(e) }
                Self.respondWithMembers(call, context.members.all, context: context, etcdserverpb__member_update_response__init,
                                        header: \.header, count: \.n_members, members: \.members)
            }) {
                throw error
            }
        } catch {
            call.fail(error)
        }
    }

    private func proposeChange(_ call: ServerCall, _ change: ConfChange, member: MemberInfo,
                               respond: @escaping @Sendable ([MemberInfo]) -> Void) {
        let context = self.context
        let requestID = context.nextRequestID()
        var cc = change
        cc.context = ConfChangeContext(requestID: requestID, member: member).encoded()
        if let error = context.raft.proposeConfChange(cc, id: requestID, on: call.eventLoop, done: { outcome in
            if case .failed(let e) = outcome { return call.fail(e) }
            respond(context.members.all)
        }) {
            call.fail(error)
        }
    }

    // MARK: MoveLeader

    func moveLeader(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            let target = try decode(request, Descriptors.shared.moveLeaderRequest, Etcdserverpb__MoveLeaderRequest.self) { $0.pointee.targetid }
            guard context.published.isLeader else { throw Self.notLeader }
            guard let m = context.members.member(target), !m.isLearner else { throw Self.badTransferee }
            _ = context.raft.inbox.tryPush(.transferLeader(target))
            let deadline = NIODeadline.now() + context.raft.settings.requestTimeout
            Self.awaitLeader(target, call: call, context: context, deadline: deadline)
        } catch {
            call.fail(error)
        }
    }

    private static func awaitLeader(_ target: UInt64, call: ServerCall, context: ServerContext, deadline: NIODeadline) {
        if context.published.lead == target {
            return call.respond { builder in
                let m = builder.arena.message(etcdserverpb__move_leader_response__init)
                m.pointee.header = builder.header(context.header(revision: context.store.currentRevision))
                return m
            }
        }
        guard NIODeadline.now() < deadline else { return call.fail(transferTimeout) }
        call.eventLoop.scheduleTask(in: .milliseconds(20)) { awaitLeader(target, call: call, context: context, deadline: deadline) }
    }

    // MARK: Encoding

    /// Peer URLs as etcd stores them (Go's url.String()); a malformed one is refused.
    static func canonicalPeerURLs(_ urls: [String]) throws(EtcdServerError) -> [String] {
        var canonical: [String] = []
        for u in urls {
            guard case .success(let parsed) = EtcdURL.parse(u) else {
                throw EtcdServerError(.invalidArgument, "etcdserver: given member URLs are invalid")  // ErrGRPCMemberBadURLs
            }
            canonical.append(parsed.canonical)
        }
        return canonical
    }

    /// A membership response: a header and the member list, the shape of MemberRemove/Update/Promote's.
    static func respondWithMembers<M>(_ call: ServerCall, _ list: [MemberInfo], context: ServerContext,
                                      _ initialize: (UnsafeMutablePointer<M>) -> Void,
                                      header: WritableKeyPath<M, UnsafeMutablePointer<Etcdserverpb__ResponseHeader>?>,
                                      count: WritableKeyPath<M, Int>,
                                      members: WritableKeyPath<M, UnsafeMutablePointer<UnsafeMutablePointer<Etcdserverpb__Member>?>?>) {
        call.respond { builder in
            let m = builder.arena.message(initialize)
            // etcd's ClusterServer.header(): cluster, member and term, no revision.
            m.pointee[keyPath: header] = builder.header(context.header(revision: 0))
            (m.pointee[keyPath: count], m.pointee[keyPath: members]) = Self.members(list, builder.arena)
            return m
        }
    }

    private func decode<T, R>(_ request: ByteBuffer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, _ type: T.Type,
                              _ body: (UnsafePointer<T>) -> R) throws(EtcdServerError) -> R {
        try withBytes(request) { raw throws(EtcdServerError) in
            try withDecoded(type, descriptor, raw) { m in body(m) }
        }
    }

    static func strings(_ n: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
        guard let p else { return [] }
        return (0..<n).compactMap { p[$0].map { String(cString: $0) } }
    }

    static func member(_ info: MemberInfo, _ arena: ProtoArena) -> UnsafeMutablePointer<Etcdserverpb__Member> {
        let p = arena.message(etcdserverpb__member__init)
        p.pointee.id = info.id
        p.pointee.name = arena.cString(info.name)
        (p.pointee.n_peerurls, p.pointee.peerurls) = cStrings(info.peerURLs, arena)
        (p.pointee.n_clienturls, p.pointee.clienturls) = cStrings(info.clientURLs, arena)
        p.pointee.islearner = info.isLearner ? 1 : 0
        return p
    }

    static func members(_ list: [MemberInfo], _ arena: ProtoArena)
        -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Etcdserverpb__Member>?>?) {
        guard !list.isEmpty else { return (0, nil) }
        let out = arena.pointerArray(of: Etcdserverpb__Member.self, count: list.count)
        for (i, m) in list.enumerated() { out[i] = member(m, arena) }
        return (list.count, out)
    }

    static func cStrings(_ values: [String], _ arena: ProtoArena) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        guard !values.isEmpty else { return (0, nil) }
        let list = arena.allocate(UnsafeMutablePointer<CChar>?.self, count: values.count)
        for (i, v) in values.enumerated() { list[i] = arena.cString(v) }
        return (values.count, list)
    }
}
