import Backend
import CProtobufC
import EtcdProto
import NIOCore
import RPC

/// etcdserverpb.Maintenance/Alarm: list, raise and disarm alarms (`etcdctl alarm list|disarm`). Alarms are
/// replicated state: raising and disarming are log entries every member applies, so all members agree on
/// whether writes are capped. A member raises NOSPACE itself (through the log) when a write it is asked to
/// propose would pass --quota-backend-bytes; after compaction frees space (LMDB reuses freed pages, so no
/// defragment is needed), disarming lets writes through again, as etcd's flow does.
struct AlarmService: Sendable {
    let context: ServerContext

    func register(into grpc: inout GRPCServer) {
        grpc.register("/etcdserverpb.Maintenance/Alarm", .unary { call, request in alarm(call, request) })
    }

    func alarm(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            let (action, type) = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__AlarmRequest.self, Descriptors.shared.alarmRequest, raw) { m in
                    (m.pointee.action, m.pointee.alarm)
                }
            }
            switch action {
            case ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET:
                // NONE lists every alarm; a type lists only that one.
                let listed = context.store.backend.alarms(of: AlarmType(rawValue: Int32(bitPattern: type.rawValue)))
                Self.respond(call, listed, context: context)
            case ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE, ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE:
                let id = context.nextRequestID()
                let data = request.withUnsafeReadableBytes { InternalRequestCodec.encode(id: id, field: .alarm, request: $0) }
                if let error = context.raft.propose(data, id: id, on: call.eventLoop, done: { outcome in
                    switch outcome {
                    case .failed(let e): call.fail(e)
                    case .alarm(let changed): Self.respond(call, changed.map { [$0] } ?? [], context: context)
                    case .applied: Self.respond(call, [], context: context)
                    }
                }) {
                    throw error
                }
            default:
                throw EtcdServerError(.invalidArgument, "etcdserver: unknown alarm action")
            }
        } catch {
            call.fail(error)
        }
    }

    private static func respond(_ call: ServerCall, _ alarms: [AlarmMember], context: ServerContext) {
        // No header: etcd's applier builds a bare AlarmResponse and nothing fills one in (its gateway prints {}).
        call.respond { builder in
            let m = builder.arena.message(etcdserverpb__alarm_response__init)
            if !alarms.isEmpty {
                let list = builder.arena.pointerArray(of: Etcdserverpb__AlarmMember.self, count: alarms.count)
                for (i, a) in alarms.enumerated() {
                    let entry = builder.arena.message(etcdserverpb__alarm_member__init)
                    entry.pointee.memberid = a.memberID
                    entry.pointee.alarm = Etcdserverpb__AlarmType(rawValue: UInt32(bitPattern: a.alarm.rawValue))
                    list[i] = entry
                }
                m.pointee.n_alarms = alarms.count
                m.pointee.alarms = list
            }
            return m
        }
    }

    /// etcd's quota check (quotaKVServer): a write that would pass the quota is refused with NOSPACE, and
    /// this member raises the NOSPACE alarm through the log so every member caps writes.
    static func admit(cost: Int64, context: ServerContext) throws(EtcdServerError) {
        guard cost > 0, context.store.exceedsQuota(cost: cost) else { return }
        if !context.store.backend.isNoSpaceAlarmRaised {
            var request = Etcdserverpb__AlarmRequest()
            etcdserverpb__alarm_request__init(&request)
            request.action = ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE
            request.memberid = context.memberID
            request.alarm = ETCDSERVERPB__ALARM_TYPE__NOSPACE
            let bytes = ProtoCodec.packed(&request)
            let id = context.nextRequestID()
            let data = bytes.withUnsafeBytes { InternalRequestCodec.encode(id: id, field: .alarm, request: $0) }
            _ = context.raft.propose(data, id: id) { _ in }
        }
        throw .noSpace
    }
}
