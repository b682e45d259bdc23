// The HTTP paths of etcd 3.4's gateway (etcdserverpb/gw/rpc.pb.gw.go, v3lockpb/gw, v3electionpb/gw) and
// the gRPC methods behind them. Message descriptors come from the generated protobuf-c code.
import CProtobufC
import EtcdProto

/// How the gateway drives a method (grpc-gateway generates one shape per kind).
enum RouteKind: Sendable {
    /// One JSON body, one JSON answer.
    case unary
    /// One JSON body, a chunked stream of `{"result":…}` lines (Snapshot, Observe).
    case serverStream
    /// A body of consecutive JSON requests, a chunked stream of `{"result":…}` lines (Watch, LeaseKeepAlive).
    case bidiStream
}

struct Route: @unchecked Sendable {  // descriptors point at immutable static C data
    let method: String
    let kind: RouteKind
    let request: UnsafePointer<ProtobufCMessageDescriptor>
    let response: UnsafePointer<ProtobufCMessageDescriptor>
}

enum GatewayRoutes {
    /// HTTP path -> route. Where etcd maps two methods to one path (/v3/maintenance/hash: Hash and
    /// HashKV) its mux takes the first registered, Hash, and so do we.
    static let table: [String: Route] = {
        var t: [String: Route] = [:]
        func add<Q, A>(_ path: String, _ method: String, _ request: (UnsafeMutablePointer<Q>) -> Void,
                       _ response: (UnsafeMutablePointer<A>) -> Void, _ kind: RouteKind = .unary) {
            precondition(t[path] == nil, "gateway path twice: \(path)")
            t[path] = Route(method: method, kind: kind, request: ProtoJSON.descriptor(of: request),
                            response: ProtoJSON.descriptor(of: response))
        }
        let kv = "/etcdserverpb.KV/", lease = "/etcdserverpb.Lease/", cluster = "/etcdserverpb.Cluster/"
        let maintenance = "/etcdserverpb.Maintenance/", auth = "/etcdserverpb.Auth/"
        let lock = "/v3lockpb.Lock/", election = "/v3electionpb.Election/"

        add("/v3/kv/range", kv + "Range", etcdserverpb__range_request__init, etcdserverpb__range_response__init)
        add("/v3/kv/put", kv + "Put", etcdserverpb__put_request__init, etcdserverpb__put_response__init)
        add("/v3/kv/deleterange", kv + "DeleteRange", etcdserverpb__delete_range_request__init,
            etcdserverpb__delete_range_response__init)
        add("/v3/kv/txn", kv + "Txn", etcdserverpb__txn_request__init, etcdserverpb__txn_response__init)
        add("/v3/kv/compaction", kv + "Compact", etcdserverpb__compaction_request__init,
            etcdserverpb__compaction_response__init)

        add("/v3/watch", "/etcdserverpb.Watch/Watch", etcdserverpb__watch_request__init,
            etcdserverpb__watch_response__init, .bidiStream)

        add("/v3/lease/grant", lease + "LeaseGrant", etcdserverpb__lease_grant_request__init,
            etcdserverpb__lease_grant_response__init)
        for path in ["/v3/lease/revoke", "/v3/kv/lease/revoke"] {
            add(path, lease + "LeaseRevoke", etcdserverpb__lease_revoke_request__init, etcdserverpb__lease_revoke_response__init)
        }
        add("/v3/lease/keepalive", lease + "LeaseKeepAlive", etcdserverpb__lease_keep_alive_request__init,
            etcdserverpb__lease_keep_alive_response__init, .bidiStream)
        for path in ["/v3/lease/timetolive", "/v3/kv/lease/timetolive"] {
            add(path, lease + "LeaseTimeToLive", etcdserverpb__lease_time_to_live_request__init,
                etcdserverpb__lease_time_to_live_response__init)
        }
        for path in ["/v3/lease/leases", "/v3/kv/lease/leases"] {
            add(path, lease + "LeaseLeases", etcdserverpb__lease_leases_request__init, etcdserverpb__lease_leases_response__init)
        }

        add("/v3/cluster/member/add", cluster + "MemberAdd", etcdserverpb__member_add_request__init,
            etcdserverpb__member_add_response__init)
        add("/v3/cluster/member/remove", cluster + "MemberRemove", etcdserverpb__member_remove_request__init,
            etcdserverpb__member_remove_response__init)
        add("/v3/cluster/member/update", cluster + "MemberUpdate", etcdserverpb__member_update_request__init,
            etcdserverpb__member_update_response__init)
        add("/v3/cluster/member/list", cluster + "MemberList", etcdserverpb__member_list_request__init,
            etcdserverpb__member_list_response__init)
        add("/v3/cluster/member/promote", cluster + "MemberPromote", etcdserverpb__member_promote_request__init,
            etcdserverpb__member_promote_response__init)

        add("/v3/maintenance/alarm", maintenance + "Alarm", etcdserverpb__alarm_request__init,
            etcdserverpb__alarm_response__init)
        add("/v3/maintenance/status", maintenance + "Status", etcdserverpb__status_request__init,
            etcdserverpb__status_response__init)
        add("/v3/maintenance/defragment", maintenance + "Defragment", etcdserverpb__defragment_request__init,
            etcdserverpb__defragment_response__init)
        add("/v3/maintenance/hash", maintenance + "Hash", etcdserverpb__hash_request__init,
            etcdserverpb__hash_response__init)
        add("/v3/maintenance/snapshot", maintenance + "Snapshot", etcdserverpb__snapshot_request__init,
            etcdserverpb__snapshot_response__init, .serverStream)
        add("/v3/maintenance/transfer-leadership", maintenance + "MoveLeader", etcdserverpb__move_leader_request__init,
            etcdserverpb__move_leader_response__init)

        add("/v3/auth/enable", auth + "AuthEnable", etcdserverpb__auth_enable_request__init,
            etcdserverpb__auth_enable_response__init)
        add("/v3/auth/disable", auth + "AuthDisable", etcdserverpb__auth_disable_request__init,
            etcdserverpb__auth_disable_response__init)
        add("/v3/auth/authenticate", auth + "Authenticate", etcdserverpb__authenticate_request__init,
            etcdserverpb__authenticate_response__init)
        add("/v3/auth/user/add", auth + "UserAdd", etcdserverpb__auth_user_add_request__init,
            etcdserverpb__auth_user_add_response__init)
        add("/v3/auth/user/get", auth + "UserGet", etcdserverpb__auth_user_get_request__init,
            etcdserverpb__auth_user_get_response__init)
        add("/v3/auth/user/list", auth + "UserList", etcdserverpb__auth_user_list_request__init,
            etcdserverpb__auth_user_list_response__init)
        add("/v3/auth/user/delete", auth + "UserDelete", etcdserverpb__auth_user_delete_request__init,
            etcdserverpb__auth_user_delete_response__init)
        add("/v3/auth/user/changepw", auth + "UserChangePassword", etcdserverpb__auth_user_change_password_request__init,
            etcdserverpb__auth_user_change_password_response__init)
        add("/v3/auth/user/grant", auth + "UserGrantRole", etcdserverpb__auth_user_grant_role_request__init,
            etcdserverpb__auth_user_grant_role_response__init)
        add("/v3/auth/user/revoke", auth + "UserRevokeRole", etcdserverpb__auth_user_revoke_role_request__init,
            etcdserverpb__auth_user_revoke_role_response__init)
        add("/v3/auth/role/add", auth + "RoleAdd", etcdserverpb__auth_role_add_request__init,
            etcdserverpb__auth_role_add_response__init)
        add("/v3/auth/role/get", auth + "RoleGet", etcdserverpb__auth_role_get_request__init,
            etcdserverpb__auth_role_get_response__init)
        add("/v3/auth/role/list", auth + "RoleList", etcdserverpb__auth_role_list_request__init,
            etcdserverpb__auth_role_list_response__init)
        add("/v3/auth/role/delete", auth + "RoleDelete", etcdserverpb__auth_role_delete_request__init,
            etcdserverpb__auth_role_delete_response__init)
        add("/v3/auth/role/grant", auth + "RoleGrantPermission", etcdserverpb__auth_role_grant_permission_request__init,
            etcdserverpb__auth_role_grant_permission_response__init)
        add("/v3/auth/role/revoke", auth + "RoleRevokePermission", etcdserverpb__auth_role_revoke_permission_request__init,
            etcdserverpb__auth_role_revoke_permission_response__init)

        add("/v3/lock/lock", lock + "Lock", v3lockpb__lock_request__init, v3lockpb__lock_response__init)
        add("/v3/lock/unlock", lock + "Unlock", v3lockpb__unlock_request__init, v3lockpb__unlock_response__init)

        add("/v3/election/campaign", election + "Campaign", v3electionpb__campaign_request__init,
            v3electionpb__campaign_response__init)
        add("/v3/election/proclaim", election + "Proclaim", v3electionpb__proclaim_request__init,
            v3electionpb__proclaim_response__init)
        add("/v3/election/leader", election + "Leader", v3electionpb__leader_request__init,
            v3electionpb__leader_response__init)
        add("/v3/election/observe", election + "Observe", v3electionpb__leader_request__init,
            v3electionpb__leader_response__init, .serverStream)
        add("/v3/election/resign", election + "Resign", v3electionpb__resign_request__init,
            v3electionpb__resign_response__init)
        return t
    }()
}
