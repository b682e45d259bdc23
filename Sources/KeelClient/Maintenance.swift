import CProtobufC
import EtcdProto
import NIOCore
import RPC

public struct StatusResponse: Sendable {
    public var header: ResponseHeader
    public var version: String
    public var dbSize: Int64
    public var dbSizeInUse: Int64
    public var leader: UInt64
    public var raftIndex: UInt64
    public var raftTerm: UInt64
    public var raftAppliedIndex: UInt64
    public var errors: [String]
    public var isLearner: Bool
}

public struct AlarmMember: Sendable, Equatable {
    public enum Alarm: UInt32, Sendable { case none = 0, noSpace, corrupt }
    public var memberID: UInt64
    public var alarm: Alarm
}

public struct HashKVResponse: Sendable {
    public var header: ResponseHeader
    public var hash: UInt32
    public var compactRevision: Int64
}

extension EtcdClient {
    /// Maintenance.Status of `endpoint` (one of the client's or any other), or of the current one.
    public func status(endpoint: Endpoint? = nil) async throws -> StatusResponse {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__status_request__init)
        let bytes = try await maintenance("/etcdserverpb.Maintenance/Status", Proto.pack(m), endpoint: endpoint)
        return try Proto.read(bytes, etcdserverpb__status_response__unpack, etcdserverpb__status_response__free_unpacked) { r in
            StatusResponse(header: ResponseHeader(r.header), version: Proto.string(r.version), dbSize: r.dbsize,
                           dbSizeInUse: r.dbsizeinuse, leader: r.leader, raftIndex: r.raftindex, raftTerm: r.raftterm,
                           raftAppliedIndex: r.raftappliedindex, errors: Proto.strings(r.errors, r.n_errors),
                           isLearner: r.islearner != 0)
        }
    }

    /// Maintenance.Alarm GET: the raised alarms (of every member).
    public func alarms() async throws -> [AlarmMember] {
        try await alarm(action: ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET, memberID: 0, alarm: .none)
    }

    /// Maintenance.Alarm DEACTIVATE of `alarm` on `memberID` (0: all members); the alarms disarmed.
    @discardableResult
    public func disarmAlarm(memberID: UInt64 = 0, alarm: AlarmMember.Alarm = .none) async throws -> [AlarmMember] {
        try await self.alarm(action: ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE, memberID: memberID, alarm: alarm)
    }

    private func alarm(action: Etcdserverpb__AlarmRequest__AlarmAction, memberID: UInt64,
                       alarm: AlarmMember.Alarm) async throws -> [AlarmMember] {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__alarm_request__init)
        m.pointee.action = action
        m.pointee.memberid = memberID
        m.pointee.alarm = Etcdserverpb__AlarmType(rawValue: alarm.rawValue)
        let bytes = try await unary("/etcdserverpb.Maintenance/Alarm", Proto.pack(m), retry: .idempotent)
        return try Proto.read(bytes, etcdserverpb__alarm_response__unpack, etcdserverpb__alarm_response__free_unpacked) { r in
            Proto.elements(r.alarms, r.n_alarms).map {
                AlarmMember(memberID: $0.memberid, alarm: AlarmMember.Alarm(rawValue: $0.alarm.rawValue) ?? .none)
            }
        }
    }

    /// Maintenance.HashKV of `endpoint` (or the current one) up to `revision` (0: the newest).
    public func hashKV(endpoint: Endpoint? = nil, revision: Int64 = 0) async throws -> HashKVResponse {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__hash_kvrequest__init)
        m.pointee.revision = revision
        let bytes = try await maintenance("/etcdserverpb.Maintenance/HashKV", Proto.pack(m), endpoint: endpoint)
        return try Proto.read(bytes, etcdserverpb__hash_kvresponse__unpack, etcdserverpb__hash_kvresponse__free_unpacked) {
            HashKVResponse(header: ResponseHeader($0.header), hash: $0.hash, compactRevision: $0.compact_revision)
        }
    }

    /// Maintenance.Defragment of `endpoint` (or the current one).
    @discardableResult
    public func defragment(endpoint: Endpoint? = nil) async throws -> ResponseHeader {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__defragment_request__init)
        let bytes = try await maintenance("/etcdserverpb.Maintenance/Defragment", Proto.pack(m), endpoint: endpoint)
        return try Proto.read(bytes, etcdserverpb__defragment_response__unpack,
                              etcdserverpb__defragment_response__free_unpacked) { ResponseHeader($0.header) }
    }

    /// A Maintenance call to the current endpoint (with failover), or to exactly `endpoint`.
    private func maintenance(_ path: String, _ request: [UInt8], endpoint: Endpoint?) async throws -> [UInt8] {
        guard let endpoint else { return try await unary(path, request, retry: .idempotent) }
        let (connection, metadata) = try await pool.dedicatedConnection(to: endpoint)
        do {
            let response = try await connection.unary(path, request: ByteBuffer(bytes: request), timeout: options.requestTimeout,
                                                      metadata: metadata).get()
            await connection.close()
            guard response.status.code == .ok else { throw EtcdError(response.status) }
            guard response.messages.count == 1 else { throw EtcdError.malformedResponse("\(path): \(response.messages.count) messages") }
            return Array(buffer: response.messages[0])
        } catch let status as GRPCStatus {
            await connection.close()
            throw EtcdError(status)
        } catch {
            await connection.close()
            throw error
        }
    }
}
