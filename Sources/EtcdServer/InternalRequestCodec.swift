import CProtobufC
import EtcdProto
import MVCC
import Raft

/// Log entries carry a `keelpb.InternalRequest`. The client's request bytes are embedded as they arrived
/// (a sub-message is just a length-delimited field), so proposing costs no re-encoding.
enum InternalRequestCodec {
    /// Field numbers of `InternalRequest.request` (keelpb/internal.proto).
    enum Field: UInt64 {
        case range = 3, put = 4, deleteRange = 5, txn = 6, compaction = 7, leaseGrant = 8, leaseRevoke = 9, alarm = 10
        case leaseCheckpoint = 11
        case authEnable = 1000, authDisable = 1011, authenticate = 1012
        case userAdd = 1100, userDelete = 1101, userGet = 1102, userChangePassword = 1103, userGrantRole = 1104
        case userRevokeRole = 1105, userList = 1106, roleList = 1107
        case roleAdd = 1200, roleDelete = 1201, roleGet = 1202, roleGrantPermission = 1203, roleRevokePermission = 1204
    }

    /// `caller`: who sent the request, for a client's request (nil: the server's own, e.g. a lease expiry).
    /// A client's entry always carries a header, empty without credentials, so the applier checks it
    /// whenever auth is enabled by the time it applies (etcd's RequestHeader).
    static func encode(id: UInt64, field: Field, request: UnsafeRawBufferPointer, caller: AuthCaller? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(request.count + 24 + (caller?.username.utf8.count ?? 0))
        appendVarint(1 << 3 | 0, to: &out)  // ID, varint
        appendVarint(id, to: &out)
        appendVarint(field.rawValue << 3 | 2, to: &out)  // the request, length-delimited
        appendVarint(UInt64(request.count), to: &out)
        out.append(contentsOf: request)
        if let caller {
            let name = caller.username.utf8
            var header: [UInt8] = []
            if !name.isEmpty {
                appendVarint(2 << 3 | 2, to: &header)
                appendVarint(UInt64(name.count), to: &header)
                header.append(contentsOf: name)
            }
            if caller.revision != 0 {
                appendVarint(3 << 3 | 0, to: &header)
                appendVarint(caller.revision, to: &header)
            }
            appendVarint(100 << 3 | 2, to: &out)  // header
            appendVarint(UInt64(header.count), to: &out)
            out.append(contentsOf: header)
        }
        return out
    }

    /// The field number of an entry's request, read from its first bytes without decoding (`encode` writes
    /// the ID, then the request); nil for anything else, e.g. an empty entry.
    static func requestField(_ data: [UInt8]) -> UInt64? {
        var reader = RaftReader(data)
        guard (try? reader.readVarint()) == (1 << 3 | 0), (try? reader.readVarint()) != nil,
              let tag = try? reader.readVarint(), tag & 7 == 2 else { return nil }
        return tag >> 3
    }

    @inline(__always)
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// What one log entry asks for.
    enum LogRequest: Sendable, Equatable {
        case write(WriteOp)
        case memberAttributes(id: UInt64, name: String, clientURLs: [String])
        case memberPeerURLs(id: UInt64, peerURLs: [String])
        /// Activate (true) or deactivate an alarm.
        case alarm(activate: Bool, memberID: UInt64, type: Int32)
    }

    /// Replays a log entry into the operation it stands for. Unknown or empty requests advance the
    /// consistent index only (they belong to state machines this build doesn't have yet).
    static func decode(_ data: [UInt8]) throws(EtcdServerError) -> WriteOp {
        let (_, request, _) = try decodeEntry(data)
        if case .write(let op) = request { return op }
        return .noop
    }

    /// The request id the proposer waits on, the request, and for a client's request who sent it.
    static func decodeEntry(_ data: [UInt8]) throws(EtcdServerError) -> (id: UInt64, request: LogRequest, caller: AuthCaller?) {
        try withBytes(data) { raw throws(EtcdServerError) -> (id: UInt64, request: LogRequest, caller: AuthCaller?) in
            try withDecoded(Keelpb__InternalRequest.self, Descriptors.shared.internalRequest, raw) { m throws(EtcdServerError) in
                let caller = m.pointee.header.map { h in
                    AuthCaller(username: cString(h.pointee.username), revision: h.pointee.auth_revision)
                }
                let (id, request) = try decodeRequest(m.pointee)
                return (id, request, caller)
            }
        }
    }

    private static func decodeRequest(_ r: Keelpb__InternalRequest) throws(EtcdServerError) -> (id: UInt64, request: LogRequest) {
                let id = r.id
                if let op = AuthRequestCodec.decode(r) { return (id, .write(.auth(op))) }
                switch r.request_case {
                case KEELPB__INTERNAL_REQUEST__REQUEST_PUT:
                    return (id, .write(.put(RequestDecoding.put(r.put))))
                case KEELPB__INTERNAL_REQUEST__REQUEST_DELETE_RANGE:
                    return (id, .write(.deleteRange(RequestDecoding.deleteRange(r.delete_range))))
                case KEELPB__INTERNAL_REQUEST__REQUEST_TXN:
                    return (id, .write(.txn(try RequestDecoding.txn(r.txn))))
                case KEELPB__INTERNAL_REQUEST__REQUEST_COMPACTION:
                    return (id, .write(.compact(RequestDecoding.compaction(r.compaction))))
                case KEELPB__INTERNAL_REQUEST__REQUEST_LEASE_GRANT:
                    let g = r.lease_grant.pointee
                    return (id, .write(.leaseGrant(id: g.id, ttl: g.ttl)))
                case KEELPB__INTERNAL_REQUEST__REQUEST_LEASE_REVOKE:
                    return (id, .write(.leaseRevoke(id: r.lease_revoke.pointee.id)))
                case KEELPB__INTERNAL_REQUEST__REQUEST_LEASE_CHECKPOINT:
                    let c = r.lease_checkpoint.pointee
                    let list = (0..<c.n_checkpoints).compactMap { i in c.checkpoints[i].map {
                        LeaseCheckpoint(id: $0.pointee.id, remainingTTL: $0.pointee.remaining_ttl)
                    } }
                    return (id, .write(.leaseCheckpoint(list)))
                case KEELPB__INTERNAL_REQUEST__REQUEST_MEMBER_ATTRIBUTES:
                    let a = r.member_attributes.pointee
                    return (id, .memberAttributes(id: a.member_id, name: cString(a.name),
                                                  clientURLs: cStrings(a.n_client_urls, a.client_urls)))
                case KEELPB__INTERNAL_REQUEST__REQUEST_MEMBER_PEER_URLS:
                    let u = r.member_peer_urls.pointee
                    return (id, .memberPeerURLs(id: u.member_id, peerURLs: cStrings(u.n_peer_urls, u.peer_urls)))
                case KEELPB__INTERNAL_REQUEST__REQUEST_ALARM:
                    let a = r.alarm.pointee
                    switch a.action {
                    case ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE:
                        return (id, .alarm(activate: true, memberID: a.memberid, type: Int32(bitPattern: a.alarm.rawValue)))
                    case ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE:
                        return (id, .alarm(activate: false, memberID: a.memberid, type: Int32(bitPattern: a.alarm.rawValue)))
                    default:
                        return (id, .write(.noop))
                    }
                default:
                    return (id, .write(.noop))
                }
    }

    /// A LeaseGrant entry: the id and TTL the proposer settled (so every member applies the same).
    static func leaseGrant(requestID: UInt64, leaseID: Int64, ttl: Int64, caller: AuthCaller? = nil) -> [UInt8] {
        var m = Etcdserverpb__LeaseGrantRequest()
        etcdserverpb__lease_grant_request__init(&m)
        (m.id, m.ttl) = (leaseID, ttl)
        return ProtoCodec.packed(&m).withUnsafeBytes { encode(id: requestID, field: .leaseGrant, request: $0, caller: caller) }
    }

    /// `caller` nil: the leader revoking an expired lease (not checked against anyone's permissions).
    static func leaseRevoke(requestID: UInt64, leaseID: Int64, caller: AuthCaller? = nil) -> [UInt8] {
        var m = Etcdserverpb__LeaseRevokeRequest()
        etcdserverpb__lease_revoke_request__init(&m)
        m.id = leaseID
        return ProtoCodec.packed(&m).withUnsafeBytes { encode(id: requestID, field: .leaseRevoke, request: $0, caller: caller) }
    }

    static func leaseCheckpoint(requestID: UInt64, _ checkpoints: [LeaseCheckpoint]) -> [UInt8] {
        var items = checkpoints.map { c -> Etcdserverpb__LeaseCheckpoint in
            var item = Etcdserverpb__LeaseCheckpoint()
            etcdserverpb__lease_checkpoint__init(&item)
            (item.id, item.remaining_ttl) = (c.id, c.remainingTTL)
            return item
        }
        return items.withUnsafeMutableBufferPointer { buffer in
            var pointers = (0..<buffer.count).map { Optional(buffer.baseAddress! + $0) }
            return pointers.withUnsafeMutableBufferPointer { list in
                var m = Etcdserverpb__LeaseCheckpointRequest()
                etcdserverpb__lease_checkpoint_request__init(&m)
                (m.n_checkpoints, m.checkpoints) = (list.count, list.baseAddress)
                return ProtoCodec.packed(&m).withUnsafeBytes { encode(id: requestID, field: .leaseCheckpoint, request: $0) }
            }
        }
    }

    static func cString(_ p: UnsafeMutablePointer<CChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p)
    }

    static func cStrings(_ n: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
        guard let p else { return [] }
        return (0..<n).map { cString(p[$0]) }
    }
}
