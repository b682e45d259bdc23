import CProtobufC
import EtcdProto
import MVCC
import NIOCore
import RPC

/// v3electionpb.Election, as etcd's v3election serves it with concurrency.Election: the leader of
/// `name` is the oldest key under "name/"; a candidate's key is "name/<lease in hex>" holding its
/// proclaimed value, attached to its lease. Errors that etcd returns as plain Go errors keep gRPC's
/// UNKNOWN code and their text.
struct ElectionService: Sendable {
    let kv: LocalKV

    static let notLeader = EtcdServerError(.unknown, "election: not leader")
    static let noLeader = EtcdServerError(.unknown, "election: no leader")
    static let missingLeaderKey = EtcdServerError(.unknown, "\"leader\" field must be provided")

    /// This service acting for the call's caller: its txns and reads are checked as the caller's would be.
    private func forCaller(_ call: ServerCall, _ body: @escaping @Sendable (ElectionService) -> Void) {
        guard let kv = kv.acting(for: call, retry: { forCaller(call, body) }) else { return }
        body(ElectionService(kv: kv))
    }

    func register(into grpc: inout GRPCServer) {
        grpc.register("/v3electionpb.Election/Campaign", .unary { call, request in forCaller(call) { $0.campaign(call, request) } })
        grpc.register("/v3electionpb.Election/Proclaim", .unary { call, request in forCaller(call) { $0.proclaim(call, request) } })
        grpc.register("/v3electionpb.Election/Leader", .unary { call, request in forCaller(call) { $0.leader(call, request) } })
        grpc.register("/v3electionpb.Election/Observe", .unary { call, request in forCaller(call) { $0.observe(call, request) } })
        grpc.register("/v3electionpb.Election/Resign", .unary { call, request in forCaller(call) { $0.resign(call, request) } })
    }

    struct LeaderKey: Sendable {
        var name: [UInt8]
        var key: [UInt8]
        var rev: Int64
        var lease: Int64
    }

    private static func prefix(_ name: [UInt8]) -> [UInt8] { name + Array("/".utf8) }

    private static func leaderKey(_ p: UnsafeMutablePointer<V3electionpb__LeaderKey>?) -> LeaderKey? {
        guard let l = p?.pointee else { return nil }
        return LeaderKey(name: ProtoBytes.copy(l.name), key: ProtoBytes.copy(l.key), rev: l.rev, lease: l.lease)
    }

    private func decode<T, R>(_ request: ByteBuffer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, _ type: T.Type,
                              _ body: (UnsafePointer<T>) -> R) throws(EtcdServerError) -> R {
        try withBytes(request) { raw throws(EtcdServerError) in try withDecoded(type, descriptor, raw) { m in body(m) } }
    }

    // MARK: Campaign

    func campaign(_ call: ServerCall, _ request: ByteBuffer) {
        let name: [UInt8], lease: Int64, value: [UInt8]
        do {
            (name, lease, value) = try decode(request, Descriptors.shared.campaignRequest, V3electionpb__CampaignRequest.self) { m in
                (ProtoBytes.copy(m.pointee.name), m.pointee.lease, ProtoBytes.copy(m.pointee.value))
            }
        } catch {
            return call.fail(error)
        }
        guard lease == 0 else { return campaign(call, name: name, lease: lease, value: value) }
        kv.grantLease(ttl: LockService.defaultSessionTTL, on: call.eventLoop) { result in
            switch result {
            case .success(let id): campaign(call, name: name, lease: id, value: value)
            case .failure(let e): call.fail(clientError(e))
            }
        }
    }

    /// etcd's Election.Campaign: create our key (or find it and proclaim the new value), then wait for
    /// every older candidate to go.
    private func campaign(_ call: ServerCall, name: [UInt8], lease: Int64, value: [UInt8]) {
        let kv = self.kv
        let prefix = Self.prefix(name)
        let key = prefix + Array(String(UInt64(bitPattern: lease), radix: 16).utf8)
        let txn = TxnRequest(compare: [Compare(result: .equal, target: .create, key: key, createRevision: 0)],
                             success: [.put(PutRequest(key: key, value: value, lease: lease))],
                             failure: [.range(RangeRequest(key: key))])
        kv.txn(txn, on: call.eventLoop) { result in
            guard case .success(let (response, revision)) = result else {
                if case .failure(let e) = result { call.fail(clientError(e)) }
                return
            }
            guard !response.succeeded, case .range(let mine) = response.responses.first, let existing = mine.kvs.first else {
                return Self.awaitLeadership(call, LeaderKey(name: name, key: key, rev: revision, lease: lease), revision: revision, kv: kv)
            }
            let leader = LeaderKey(name: name, key: key, rev: existing.createRevision, lease: lease)
            guard existing.value != value else { return Self.awaitLeadership(call, leader, revision: revision, kv: kv) }
            Self.proclaim(leader, value: value, kv: kv, on: call.eventLoop) { proclaimed in
                switch proclaimed {
                case .success: Self.awaitLeadership(call, leader, revision: revision, kv: kv)
                case .failure(let e):
                    Self.resign(leader, kv: kv, on: call.eventLoop) { _ in }
                    call.fail(clientError(e))
                }
            }
        }
    }

    /// etcd's waitDeletes on the older candidates, then the campaign's answer.
    private static func awaitLeadership(_ call: ServerCall, _ leader: LeaderKey, revision: Int64, kv: LocalKV) {
        let waiter = DeleteWaiter(kv: kv, prefix: prefix(leader.name), revision: leader.rev - 1, on: call.eventLoop) { waited in
            switch waited {
            case .success: respondCampaign(call, leader, revision: revision, context: kv.context)
            case .failure(let e): call.fail(clientError(e))
            }
        }
        call.onCancel {  // etcd resigns a campaign its caller gave up
            waiter.cancel()
            resign(leader, kv: kv, on: call.eventLoop) { _ in }
        }
    }

    private static func respondCampaign(_ call: ServerCall, _ leader: LeaderKey, revision: Int64, context: ServerContext) {
        call.respond { b in
            let m = b.arena.message(v3electionpb__campaign_response__init)
            m.pointee.header = b.header(context.header(revision: revision))
            let l = b.arena.message(v3electionpb__leader_key__init)
            l.pointee.name = b.arena.binary(leader.name)
            l.pointee.key = b.arena.binary(leader.key)
            (l.pointee.rev, l.pointee.lease) = (leader.rev, leader.lease)
            m.pointee.leader = l
            return m
        }
    }

    // MARK: Proclaim and Resign

    /// Puts `value` under the leader key if it is still the one created at `rev`.
    private static func proclaim(_ leader: LeaderKey, value: [UInt8], kv: LocalKV, on eventLoop: EventLoop,
                                 _ done: @escaping LocalKV.Done<Int64>) {
        let txn = TxnRequest(compare: [Compare(result: .equal, target: .create, key: leader.key, createRevision: leader.rev)],
                             success: [.put(PutRequest(key: leader.key, value: value, lease: leader.lease))])
        kv.txn(txn, on: eventLoop) { result in
            done(result.flatMap { response, revision in response.succeeded ? .success(revision) : .failure(notLeader) })
        }
    }

    /// Deletes the leader key if it is still the one created at `rev`; answers the revision either way.
    private static func resign(_ leader: LeaderKey, kv: LocalKV, on eventLoop: EventLoop, _ done: @escaping LocalKV.Done<Int64>) {
        let txn = TxnRequest(compare: [Compare(result: .equal, target: .create, key: leader.key, createRevision: leader.rev)],
                             success: [.deleteRange(DeleteRangeRequest(key: leader.key))])
        kv.txn(txn, on: eventLoop) { result in done(result.map { $0.1 }) }
    }

    func proclaim(_ call: ServerCall, _ request: ByteBuffer) {
        let context = kv.context
        do throws(EtcdServerError) {
            let (leader, value) = try decode(request, Descriptors.shared.proclaimRequest, V3electionpb__ProclaimRequest.self) { m in
                (Self.leaderKey(m.pointee.leader), ProtoBytes.copy(m.pointee.value))
            }
            guard let leader else { throw Self.missingLeaderKey }
            Self.proclaim(leader, value: value, kv: kv, on: call.eventLoop) { result in
                respondWithHeader(call, result, context: context, v3electionpb__proclaim_response__init, header: \.header)
            }
        } catch {
            call.fail(error)
        }
    }

    func resign(_ call: ServerCall, _ request: ByteBuffer) {
        let context = kv.context
        do throws(EtcdServerError) {
            let leader = try decode(request, Descriptors.shared.resignRequest, V3electionpb__ResignRequest.self) { m in
                Self.leaderKey(m.pointee.leader)
            }
            guard let leader else { throw Self.missingLeaderKey }
            Self.resign(leader, kv: kv, on: call.eventLoop) { result in
                respondWithHeader(call, result, context: context, v3electionpb__resign_response__init, header: \.header)
            }
        } catch {
            call.fail(error)
        }
    }

    // MARK: Leader and Observe

    func leader(_ call: ServerCall, _ request: ByteBuffer) {
        let kv = self.kv
        let name: [UInt8]
        do {
            name = try decode(request, Descriptors.shared.leaderRequest, V3electionpb__LeaderRequest.self) { ProtoBytes.copy($0.pointee.name) }
        } catch {
            return call.fail(error)
        }
        // A linearizable read, as etcd's client Get.
        kv.context.raft.linearizableRead { error in
            call.eventLoop.execute {
                if let error { return call.fail(error) }
                do throws(EtcdServerError) {
                    guard let leader = try kv.firstCreated(Self.prefix(name)) else { throw Self.noLeader }
                    call.respond { b in Self.leaderResponse(b, leader, context: kv.context) }
                } catch {
                    call.fail(error)
                }
            }
        }
    }

    private static func leaderResponse(_ b: ResponseBuilder, _ kv: KeyValue,
                                       context: ServerContext) -> UnsafeMutablePointer<V3electionpb__LeaderResponse> {
        let m = b.arena.message(v3electionpb__leader_response__init)
        m.pointee.header = b.header(context.header(revision: context.store.currentRevision))
        m.pointee.kv = b.keyValue(kv)
        return m
    }

    /// A stream of the leader's key each time it changes (a new leader, or a proclaimed value); nothing
    /// while there is none.
    func observe(_ call: ServerCall, _ request: ByteBuffer) {
        let kv = self.kv
        let name: [UInt8]
        do {
            name = try decode(request, Descriptors.shared.leaderRequest, V3electionpb__LeaderRequest.self) { ProtoBytes.copy($0.pointee.name) }
        } catch {
            return call.fail(error)
        }
        let observer = LeaderObserver(call: call, kv: kv, prefix: Self.prefix(name))
        call.onCancel { observer.stop() }
        observer.start()
    }

    /// Sends the current leader whenever it differs from the last one sent. Event loop only.
    private final class LeaderObserver: @unchecked Sendable {
        private let call: ServerCall
        private let kv: LocalKV
        private let prefix: [UInt8]
        private var watch: PrefixWatch?
        private var last: (key: [UInt8], modRevision: Int64)?

        init(call: ServerCall, kv: LocalKV, prefix: [UInt8]) {
            self.call = call
            self.kv = kv
            self.prefix = prefix
        }

        func start() {
            let watch = PrefixWatch(prefix: prefix, deletesOnly: false, hub: kv.context.watches, eventLoop: call.eventLoop) { [weak self] in
                self?.look()
            }
            self.watch = watch
            guard watch.start() else { return call.fail(EtcdServerError(.resourceExhausted, "etcdserver: too many watchers")) }
            look()
        }

        func stop() {
            watch?.stop()
            watch = nil
        }

        private func look() {
            guard watch != nil else { return }
            do throws(EtcdServerError) {
                guard let leader = try kv.firstCreated(prefix) else { return }
                if let last, last.key == leader.key, last.modRevision == leader.modRevision { return }
                last = (leader.key, leader.modRevision)
                let context = kv.context
                call.sendMessage { b in ElectionService.leaderResponse(b, leader, context: context) }
            } catch {
                stop()
                call.fail(error)
            }
        }
    }
}
