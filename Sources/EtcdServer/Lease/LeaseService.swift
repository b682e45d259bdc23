import CProtobufC
import EtcdProto
import MVCC
import NIOCore
import RPC

/// etcdserverpb.Lease. Grants and revocations go through Raft on any member; keep-alives and time-to-live
/// need the leader's clock (LeaseSchedule), so a follower forwards them to the leader; the list of leases
/// is served from the applied state here.
struct LeaseService: Sendable {
    let context: ServerContext
    let schedule: LeaseSchedule
    /// etcd's minimum TTL: 1.5 election timeouts in whole seconds (a shorter lease could expire during an election).
    let minTTL: Int64

    /// etcd's MaxLeaseTTL.
    static let maxTTL: Int64 = 9_000_000_000
    /// Keel-only: a follower's keep-alive, renewed by the leader (etcd uses a peer-port HTTP endpoint).
    static let renewPath = "/keelpb.Lease/Renew"

    static let ttlTooLarge = EtcdServerError(.outOfRange, "etcdserver: too large lease TTL")
    static let notFound = EtcdServerError(EtcdError.leaseNotFound)

    func register(into grpc: inout GRPCServer) {
        grpc.register("/etcdserverpb.Lease/LeaseGrant", .unary { call, request in grant(call, request) })
        grpc.register("/etcdserverpb.Lease/LeaseRevoke", .unary { call, request in revoke(call, request) })
        grpc.register("/etcdserverpb.Lease/LeaseTimeToLive", .unary { call, request in timeToLive(call, request) })
        grpc.register("/etcdserverpb.Lease/LeaseLeases", .unary { call, request in leases(call, request) })
        grpc.register("/etcdserverpb.Lease/LeaseKeepAlive", .streaming { call in
            call.setObserver(LeaseKeepAliveStream(call: call, service: self))
        })
        grpc.register(Self.renewPath, .unary { call, request in renewForFollower(call, request) })
    }

    private func decode<T, R>(_ request: ByteBuffer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, _ type: T.Type,
                              _ body: (UnsafePointer<T>) -> R) throws(EtcdServerError) -> R {
        try withBytes(request) { raw throws(EtcdServerError) in try withDecoded(type, descriptor, raw) { m in body(m) } }
    }

    // MARK: Through Raft

    func grant(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        let resolution = context.auth.resolve(call)
        guard case .caller(let caller) = resolution else {
            return context.auth.settle(resolution, call, raft: context.raft) { grant(call, request) }
        }
        do throws(EtcdServerError) {
            let (ttl, id) = try decode(request, Descriptors.shared.leaseGrantRequest, Etcdserverpb__LeaseGrantRequest.self) {
                ($0.pointee.ttl, $0.pointee.id)
            }
            if ttl > Self.maxTTL { throw Self.ttlTooLarge }
            if context.published.isLearner { throw EtcdServerError.learnerNotSupported }
            try AlarmService.admit(cost: Self.leaseOverhead, context: context)
            // The id and the TTL are settled here, so every member applies the same grant.
            let leaseID = id != 0 ? id : Int64(bitPattern: context.nextRequestID() & (UInt64.max >> 1))
            let requestID = context.nextRequestID()
            let data = InternalRequestCodec.leaseGrant(requestID: requestID, leaseID: leaseID, ttl: max(ttl, minTTL),
                                                       caller: caller ?? .anonymous)
            if let error = context.propose(data, id: requestID, on: call.eventLoop, done: { result in
                guard case .applied(.leaseGrant(let granted, let grantedTTL)) = result.outcome else {
                    return call.fail(result.error.map(EtcdServerError.init) ?? .timeout)
                }
                call.respond { b in
                    let m = b.arena.message(etcdserverpb__lease_grant_response__init)
                    m.pointee.header = b.header(context.header(revision: context.store.currentRevision))
                    (m.pointee.id, m.pointee.ttl) = (granted, grantedTTL)
                    return m
                }
            }) {
                throw error
            }
        } catch {
            call.fail(error)
        }
    }

    /// etcd's quota cost of a lease (leaseOverhead).
    static let leaseOverhead: Int64 = 64

    func revoke(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        let resolution = context.auth.resolve(call)
        guard case .caller(let caller) = resolution else {
            return context.auth.settle(resolution, call, raft: context.raft) { revoke(call, request) }
        }
        do throws(EtcdServerError) {
            let id = try decode(request, Descriptors.shared.leaseRevokeRequest, Etcdserverpb__LeaseRevokeRequest.self) { $0.pointee.id }
            if context.published.isLearner { throw EtcdServerError.learnerNotSupported }
            let requestID = context.nextRequestID()
            if let error = context.propose(InternalRequestCodec.leaseRevoke(requestID: requestID, leaseID: id, caller: caller ?? .anonymous), id: requestID, on: call.eventLoop, done: { result in
                guard case .applied(.leaseRevoke) = result.outcome else {
                    return call.fail(result.error.map(EtcdServerError.init) ?? .timeout)
                }
                call.respond { b in
                    let m = b.arena.message(etcdserverpb__lease_revoke_response__init)
                    m.pointee.header = b.header(context.header(revision: result.revision))
                    return m
                }
            }) {
                throw error
            }
        } catch {
            call.fail(error)
        }
    }

    // MARK: The leader's clock

    func timeToLive(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            let (id, wantKeys) = try decode(request, Descriptors.shared.leaseTimeToLiveRequest, Etcdserverpb__LeaseTimeToLiveRequest.self) {
                ($0.pointee.id, $0.pointee.keys != 0)
            }
            guard context.published.isLeader else {
                return LeaderChannel.forward(call, "/etcdserverpb.Lease/LeaseTimeToLive", request, context: context)
            }
            let lease = context.store.lease(id)
            let left = schedule.remaining(id)
            call.respond { b in
                let m = b.arena.message(etcdserverpb__lease_time_to_live_response__init)
                m.pointee.header = b.header(context.header(revision: context.store.currentRevision))
                m.pointee.id = id
                guard let lease, let left else {
                    m.pointee.ttl = -1  // etcd's answer for a lease that is gone
                    return m
                }
                m.pointee.ttl = Int64((Double(left.nanoseconds) / 1e9).rounded())
                m.pointee.grantedttl = lease.ttl
                if wantKeys && !lease.keys.isEmpty {
                    let keys = lease.keys.sorted { $0.lexicographicallyPrecedes($1) }
                    let list = b.arena.allocate(ProtobufCBinaryData.self, count: keys.count)
                    for (i, k) in keys.enumerated() { list[i] = b.arena.binary(k) }
                    (m.pointee.n_keys, m.pointee.keys) = (keys.count, list)
                }
                return m
            }
        } catch {
            call.fail(error)
        }
    }

    func leases(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            try decode(request, Descriptors.shared.leaseLeasesRequest, Etcdserverpb__LeaseLeasesRequest.self) { _ in () }
            let ids = context.store.leaseSummaries().map(\.id).sorted()
            call.respond { b in
                let m = b.arena.message(etcdserverpb__lease_leases_response__init)
                m.pointee.header = b.header(context.header(revision: context.store.currentRevision))
                if !ids.isEmpty {
                    let list = b.arena.pointerArray(of: Etcdserverpb__LeaseStatus.self, count: ids.count)
                    for (i, id) in ids.enumerated() {
                        let s = b.arena.message(etcdserverpb__lease_status__init)
                        s.pointee.id = id
                        list[i] = s
                    }
                    (m.pointee.n_leases, m.pointee.leases) = (ids.count, list)
                }
                return m
            }
        } catch {
            call.fail(error)
        }
    }

    /// A renewal on the leader: the TTL to answer (0: no such lease, as etcd answers a keep-alive).
    func renewHere(_ id: Int64) -> Int64 {
        if case .renewed(let ttl) = schedule.renew(id) { return ttl }
        return 0
    }

    /// A follower's keep-alive, forwarded here.
    private func renewForFollower(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            let id = try decode(request, Descriptors.shared.leaseKeepAliveRequest, Etcdserverpb__LeaseKeepAliveRequest.self) { $0.pointee.id }
            guard context.published.isLeader else { throw EtcdServerError.noLeader }
            let ttl = renewHere(id)
            call.respond { b in Self.keepAliveResponse(b, id: id, ttl: ttl, context: context) }
        } catch {
            call.fail(error)
        }
    }

    static func keepAliveResponse(_ b: ResponseBuilder, id: Int64, ttl: Int64,
                                  context: ServerContext) -> UnsafeMutablePointer<Etcdserverpb__LeaseKeepAliveResponse> {
        let m = b.arena.message(etcdserverpb__lease_keep_alive_response__init)
        m.pointee.header = b.header(context.header(revision: context.store.currentRevision))
        (m.pointee.id, m.pointee.ttl) = (id, ttl)
        return m
    }
}
