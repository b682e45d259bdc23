import CProtobufC
import EtcdProto
import NIOCore
import RPC

/// etcdserverpb.Maintenance/Alarm: list, raise and disarm alarms (`etcdctl alarm list|disarm`). Keel raises
/// NOSPACE when a write would pass --quota-backend-bytes; after compaction frees space (LMDB reuses freed
/// pages, so no defragment is needed), disarming lets writes through again, as etcd's flow does.
/// The alarm is this member's in-memory state; it is not yet persisted across restarts (etcd keeps it in
/// its alarm bucket), which only ever errs towards accepting writes after a restart that re-checks quota.
struct AlarmService: Sendable {
    let context: ServerContext

    func register(into grpc: inout GRPCServer) {
        grpc.register("/etcdserverpb.Maintenance/Alarm", .unary { call, request in alarm(call, request) })
    }

    func alarm(_ call: ServerCall, _ request: ByteBuffer) {
        do throws(EtcdServerError) {
            let (action, member, type) = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__AlarmRequest.self, Descriptors.shared.alarmRequest, raw) { m in
                    (m.pointee.action, m.pointee.memberid, m.pointee.alarm)
                }
            }
            let backend = context.store.backend
            let appliesToUs = member == 0 || member == context.memberID
            let noSpace = type == ETCDSERVERPB__ALARM_TYPE__NOSPACE
            var reported = false
            switch action {
            case ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET:
                // NONE lists every alarm; a type lists only that one.
                reported = backend.isNoSpaceAlarmRaised && (type == ETCDSERVERPB__ALARM_TYPE__NONE || noSpace)
            case ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE:
                if noSpace && appliesToUs && !backend.isNoSpaceAlarmRaised {
                    backend.raiseNoSpaceAlarm()
                    reported = true
                }
            case ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE:
                if noSpace && appliesToUs && backend.isNoSpaceAlarmRaised {
                    backend.clearNoSpaceAlarm()
                    reported = true
                }
            default:
                throw EtcdServerError(.invalidArgument, "etcdserver: unknown alarm action")
            }
            let memberID = context.memberID
            let header = context.header(revision: context.store.currentRevision)
            call.respond { builder in
                let m = builder.arena.message(etcdserverpb__alarm_response__init)
                m.pointee.header = builder.header(header)
                if reported {
                    let list = builder.arena.pointerArray(of: Etcdserverpb__AlarmMember.self, count: 1)
                    let entry = builder.arena.message(etcdserverpb__alarm_member__init)
                    entry.pointee.memberid = memberID
                    entry.pointee.alarm = ETCDSERVERPB__ALARM_TYPE__NOSPACE
                    list[0] = entry
                    m.pointee.n_alarms = 1
                    m.pointee.alarms = list
                }
                return m
            }
        } catch {
            call.fail(error)
        }
    }
}
