import CProtobufC
import EtcdProto
import MVCC

/// Auth requests in the log: `keelpb.InternalRequest`'s auth fields (etcd's numbers). A client's request
/// bytes are embedded as they came, except UserAdd and UserChangePassword, whose `password` the proposer
/// replaces by its bcrypt hash (no plain password reaches the log, and every member stores one hash), and
/// Authenticate, which becomes an InternalAuthenticateRequest carrying the simple-token prefix instead.
enum AuthRequestCodec {
    static func decode(_ r: Keelpb__InternalRequest) -> AuthOp? {
        let s = InternalRequestCodec.cString
        switch r.request_case {
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_ENABLE: return .enable
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_DISABLE: return .disable
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTHENTICATE:
            return .authenticate(name: s(r.authenticate.pointee.name), tokenPrefix: s(r.authenticate.pointee.simple_token))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_USER_ADD:
            let u = r.auth_user_add.pointee
            return .userAdd(name: s(u.name), hashedPassword: bytes(u.password),
                            noPassword: noPassword(u.options))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_USER_DELETE: return .userDelete(name: s(r.auth_user_delete.pointee.name))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_USER_GET: return .userGet(name: s(r.auth_user_get.pointee.name))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_USER_CHANGE_PASSWORD:
            let c = r.auth_user_change_password.pointee
            return .userChangePassword(name: s(c.name), hashedPassword: bytes(c.password))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_USER_GRANT_ROLE:
            return .userGrantRole(user: s(r.auth_user_grant_role.pointee.user), role: s(r.auth_user_grant_role.pointee.role))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_USER_REVOKE_ROLE:
            return .userRevokeRole(user: s(r.auth_user_revoke_role.pointee.name), role: s(r.auth_user_revoke_role.pointee.role))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_USER_LIST: return .userList
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_ROLE_LIST: return .roleList
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_ROLE_ADD: return .roleAdd(name: s(r.auth_role_add.pointee.name))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_ROLE_DELETE: return .roleDelete(name: s(r.auth_role_delete.pointee.role))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_ROLE_GET: return .roleGet(name: s(r.auth_role_get.pointee.role))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_ROLE_GRANT_PERMISSION:
            let g = r.auth_role_grant_permission.pointee
            let p = g.perm?.pointee
            let kind = AuthPermission.Kind(rawValue: Int32(bitPattern: p?.permtype.rawValue ?? 0)) ?? .read
            return .roleGrantPermission(role: s(g.name), permission: AuthPermission(
                kind: kind, key: p.map { ProtoBytes.copy($0.key) } ?? [], rangeEnd: p.map { ProtoBytes.copy($0.range_end) } ?? []))
        case KEELPB__INTERNAL_REQUEST__REQUEST_AUTH_ROLE_REVOKE_PERMISSION:
            let v = r.auth_role_revoke_permission.pointee
            return .roleRevokePermission(role: s(v.role), key: ProtoBytes.copy(v.key), rangeEnd: ProtoBytes.copy(v.range_end))
        default:
            return nil
        }
    }

    static func noPassword(_ options: UnsafeMutablePointer<Authpb__UserAddOptions>?) -> Bool {
        guard let options else { return false }
        return options.pointee.no_password != 0
    }

    /// UserAdd with `hashed` in place of the password.
    static func userAdd(name: String, hashed: [UInt8], noPassword: Bool) -> [UInt8] {
        withCStrings(name, String(decoding: hashed, as: UTF8.self)) { n, p in
            var options = Authpb__UserAddOptions()
            authpb__user_add_options__init(&options)
            options.no_password = noPassword ? 1 : 0
            return withUnsafeMutablePointer(to: &options) { o in
                var m = Etcdserverpb__AuthUserAddRequest()
                etcdserverpb__auth_user_add_request__init(&m)
                (m.name, m.password) = (n, p)
                if noPassword { m.options = o }
                return ProtoCodec.packed(&m)
            }
        }
    }

    static func userChangePassword(name: String, hashed: [UInt8]) -> [UInt8] {
        withCStrings(name, String(decoding: hashed, as: UTF8.self)) { n, p in
            var m = Etcdserverpb__AuthUserChangePasswordRequest()
            etcdserverpb__auth_user_change_password_request__init(&m)
            (m.name, m.password) = (n, p)
            return ProtoCodec.packed(&m)
        }
    }

    static func authenticate(name: String, tokenPrefix: String) -> [UInt8] {
        withCStrings(name, tokenPrefix) { n, t in
            var m = Keelpb__InternalAuthenticateRequest()
            keelpb__internal_authenticate_request__init(&m)
            (m.name, m.simple_token) = (n, t)
            return ProtoCodec.packed(&m)
        }
    }

    private static func withCStrings<R>(_ a: String, _ b: String,
                                        _ body: (UnsafeMutablePointer<CChar>, UnsafeMutablePointer<CChar>) -> R) -> R {
        var a = Array(a.utf8CString), b = Array(b.utf8CString)
        return a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in body(pa.baseAddress!, pb.baseAddress!) }
        }
    }

    private static func bytes(_ p: UnsafeMutablePointer<CChar>?) -> [UInt8] {
        guard let p else { return [] }
        return Array(String(cString: p).utf8)
    }
}
