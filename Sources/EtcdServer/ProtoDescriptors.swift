import CProtobufC
import EtcdProto
import NIOCore

/// Descriptors of the messages the server decodes, resolved once (the C globals must not be copied).
struct Descriptors: @unchecked Sendable {  // immutable pointers to static C data
    let rangeRequest = ProtoCodec.descriptor(of: etcdserverpb__range_request__init)
    let putRequest = ProtoCodec.descriptor(of: etcdserverpb__put_request__init)
    let deleteRangeRequest = ProtoCodec.descriptor(of: etcdserverpb__delete_range_request__init)
    let txnRequest = ProtoCodec.descriptor(of: etcdserverpb__txn_request__init)
    let compactionRequest = ProtoCodec.descriptor(of: etcdserverpb__compaction_request__init)
    let alarmRequest = ProtoCodec.descriptor(of: etcdserverpb__alarm_request__init)
    let internalRequest = ProtoCodec.descriptor(of: keelpb__internal_request__init)
    let memberAddRequest = ProtoCodec.descriptor(of: etcdserverpb__member_add_request__init)
    let memberRemoveRequest = ProtoCodec.descriptor(of: etcdserverpb__member_remove_request__init)
    let memberUpdateRequest = ProtoCodec.descriptor(of: etcdserverpb__member_update_request__init)
    let memberPromoteRequest = ProtoCodec.descriptor(of: etcdserverpb__member_promote_request__init)
    let hashKVRequest = ProtoCodec.descriptor(of: etcdserverpb__hash_kvrequest__init)
    let watchRequest = ProtoCodec.descriptor(of: etcdserverpb__watch_request__init)
    let leaseGrantRequest = ProtoCodec.descriptor(of: etcdserverpb__lease_grant_request__init)
    let leaseRevokeRequest = ProtoCodec.descriptor(of: etcdserverpb__lease_revoke_request__init)
    let leaseTimeToLiveRequest = ProtoCodec.descriptor(of: etcdserverpb__lease_time_to_live_request__init)
    let leaseLeasesRequest = ProtoCodec.descriptor(of: etcdserverpb__lease_leases_request__init)
    let leaseKeepAliveRequest = ProtoCodec.descriptor(of: etcdserverpb__lease_keep_alive_request__init)
    let leaseKeepAliveResponse = ProtoCodec.descriptor(of: etcdserverpb__lease_keep_alive_response__init)
    let lockRequest = ProtoCodec.descriptor(of: v3lockpb__lock_request__init)
    let unlockRequest = ProtoCodec.descriptor(of: v3lockpb__unlock_request__init)
    let campaignRequest = ProtoCodec.descriptor(of: v3electionpb__campaign_request__init)
    let proclaimRequest = ProtoCodec.descriptor(of: v3electionpb__proclaim_request__init)
    let leaderRequest = ProtoCodec.descriptor(of: v3electionpb__leader_request__init)
    let resignRequest = ProtoCodec.descriptor(of: v3electionpb__resign_request__init)
    let moveLeaderRequest = ProtoCodec.descriptor(of: etcdserverpb__move_leader_request__init)
    let authenticateRequest = ProtoCodec.descriptor(of: etcdserverpb__authenticate_request__init)
    let authUserAddRequest = ProtoCodec.descriptor(of: etcdserverpb__auth_user_add_request__init)
    let authUserChangePasswordRequest = ProtoCodec.descriptor(of: etcdserverpb__auth_user_change_password_request__init)

    static let shared = Descriptors()
}

/// Decodes `bytes` as a message of `descriptor`, runs `body` on it and frees it.
/// Malformed protobuf becomes etcd's (grpc-go's) INTERNAL "grpc: error unmarshalling request".
func withDecoded<T, R>(_ type: T.Type, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                       _ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<T>) throws(EtcdServerError) -> R)
    throws(EtcdServerError) -> R {
    let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    guard let message = protobuf_c_message_unpack(descriptor, nil, bytes.count, base) else {
        throw EtcdServerError.malformedRequest
    }
    defer { protobuf_c_message_free_unpacked(message, nil) }
    // The generated struct starts with its ProtobufCMessage, so the pointer is the message's own.
    return try body(UnsafeRawPointer(message).assumingMemoryBound(to: T.self))
}

/// `withUnsafeReadableBytes` / `withUnsafeBytes` keeping the typed error (they only rethrow `any Error`).
func withBytes<R>(_ buffer: ByteBuffer, _ body: (UnsafeRawBufferPointer) throws(EtcdServerError) -> R) throws(EtcdServerError) -> R {
    let result = buffer.withUnsafeReadableBytes { raw in Result { () throws(EtcdServerError) in try body(raw) } }
    return try result.get()
}

func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(EtcdServerError) -> R) throws(EtcdServerError) -> R {
    let result = bytes.withUnsafeBytes { raw in Result { () throws(EtcdServerError) in try body(raw) } }
    return try result.get()
}
