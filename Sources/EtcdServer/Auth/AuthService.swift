import CProtobufC
import EtcdProto
import MVCC
import NIOCore
import NIOPosix
import RPC

/// etcdserverpb.Auth, wire-identical to etcd 3.4: every call is a log entry (so users, roles and the
/// auth switch change the same way on every member, and even reads of them are linearizable, as in 3.4),
/// proposed with the caller in its header; the applier checks the root role where etcd does.
/// Authenticate checks the password here first (bcrypt, off the event loop), then proposes.
struct AuthService: Sendable {
    let context: ServerContext
    /// --bcrypt-cost.
    let bcryptCost: Int

    private typealias Field = InternalRequestCodec.Field

    func register(into grpc: inout GRPCServer) {
        let plain: [(String, Field)] = [
            ("AuthEnable", .authEnable), ("AuthDisable", .authDisable),
            ("UserGet", .userGet), ("UserList", .userList), ("UserDelete", .userDelete),
            ("UserGrantRole", .userGrantRole), ("UserRevokeRole", .userRevokeRole),
            ("RoleAdd", .roleAdd), ("RoleGet", .roleGet), ("RoleList", .roleList), ("RoleDelete", .roleDelete),
            ("RoleGrantPermission", .roleGrantPermission), ("RoleRevokePermission", .roleRevokePermission),
        ]
        for (method, field) in plain {
            grpc.register("/etcdserverpb.Auth/\(method)", .unary { call, request in
                proposeAsSent(call, request, field: field)
            })
        }
        grpc.register("/etcdserverpb.Auth/UserAdd", .unary { call, request in userAdd(call, request) })
        grpc.register("/etcdserverpb.Auth/UserChangePassword", .unary { call, request in changePassword(call, request) })
        grpc.register("/etcdserverpb.Auth/Authenticate", .unary { call, request in authenticate(call, request) })
    }

    /// The client's request goes into the log as it came.
    private func proposeAsSent(_ call: ServerCall, _ request: ByteBuffer, field: Field) {
        guard let caller = context.auth.caller(call, raft: context.raft, retry: { proposeAsSent(call, request, field: field) })
        else { return }
        let bytes = Array(request.readableBytesView)
        propose(call, bytes, field: field, caller: caller ?? .anonymous)
    }

    private func userAdd(_ call: ServerCall, _ request: ByteBuffer) {
        guard let caller = context.auth.caller(call, raft: context.raft, retry: { userAdd(call, request) }) else { return }
        do throws(EtcdServerError) {
            let (name, password, noPassword) = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__AuthUserAddRequest.self, Descriptors.shared.authUserAddRequest, raw) { m in
                    (cString(m.pointee.name), cString(m.pointee.password), AuthRequestCodec.noPassword(m.pointee.options))
                }
            }
            hashThenPropose(call, password: noPassword ? nil : password, caller: caller) { hashed in
                (AuthRequestCodec.userAdd(name: name, hashed: hashed, noPassword: noPassword), .userAdd)
            }
        } catch {
            call.fail(error)
        }
    }

    private func changePassword(_ call: ServerCall, _ request: ByteBuffer) {
        guard let caller = context.auth.caller(call, raft: context.raft, retry: { changePassword(call, request) }) else { return }
        do throws(EtcdServerError) {
            let (name, password) = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__AuthUserChangePasswordRequest.self, Descriptors.shared.authUserChangePasswordRequest, raw) { m in
                    (cString(m.pointee.name), cString(m.pointee.password))
                }
            }
            hashThenPropose(call, password: password, caller: caller) { hashed in
                (AuthRequestCodec.userChangePassword(name: name, hashed: hashed), .userChangePassword)
            }
        } catch {
            call.fail(error)
        }
    }

    /// bcrypt costs tens of milliseconds: NIO's blocking pool does it, then the entry is proposed.
    private func hashThenPropose(_ call: ServerCall, password: String?, caller: AuthCaller?,
                                 _ entry: @escaping @Sendable ([UInt8]) -> ([UInt8], Field)) {
        let cost = bcryptCost
        let context = self.context
        NIOThreadPool.singleton.runIfActive(eventLoop: call.eventLoop) { () -> [UInt8]? in
            guard let password else { return [] }
            return Bcrypt.hash(password, cost: cost)
        }.whenComplete { result in
            guard case .success(let hashed?) = result else {
                return call.fail(EtcdServerError(.internal, "etcdserver: failed to hash the password"))
            }
            let (bytes, field) = entry(hashed)
            AuthService(context: context, bcryptCost: cost).propose(call, bytes, field: field, caller: caller ?? .anonymous)
        }
    }

    /// etcd's Authenticate: a linearizable read, the password checked against the hash as applied,
    /// then an entry that mints the token on every member; redone if auth changed meanwhile.
    private func authenticate(_ call: ServerCall, _ request: ByteBuffer, attempt: Int = 0) {
        let context = self.context
        let cost = bcryptCost
        let decoded: (name: String, password: String)
        do throws(EtcdServerError) {
            decoded = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__AuthenticateRequest.self, Descriptors.shared.authenticateRequest, raw) { m in
                    (cString(m.pointee.name), cString(m.pointee.password))
                }
            }
        } catch {
            return call.fail(error)
        }
        context.raft.linearizableRead { error in
            if let error { return call.fail(error) }
            let auth = context.store.auth
            let hash: [UInt8]
            do throws(EtcdError) { hash = try auth.passwordHash(of: decoded.name) } catch { return call.fail(EtcdServerError(error)) }
            let checkedRevision = auth.revision
            NIOThreadPool.singleton.runIfActive(eventLoop: call.eventLoop) {
                Bcrypt.verify(decoded.password, hash: hash)
            }.whenComplete { result in
                guard case .success(true) = result else { return call.fail(EtcdServerError(.authFailed)) }
                let prefix = SimpleTokens.newPrefix()
                let id = context.nextRequestID()
                let data = AuthRequestCodec.authenticate(name: decoded.name, tokenPrefix: prefix).withUnsafeBytes {
                    InternalRequestCodec.encode(id: id, field: .authenticate, request: $0, caller: .anonymous)
                }
                if let error = context.propose(data, id: id, on: call.eventLoop, done: { result in
                    guard case .applied(.auth(.authenticated(let name, let simpleToken))) = result.outcome else {
                        return Self.answer(call, result, context: context)
                    }
                    let revision = context.store.authRevision
                    if revision != checkedRevision && attempt < 3 {
                        // The password was checked against an older auth state: check again.
                        return AuthService(context: context, bcryptCost: cost).authenticate(call, request, attempt: attempt + 1)
                    }
                    context.auth.tokens.token(for: name, simpleToken: simpleToken, revision: revision) { issued in
                        call.eventLoop.execute {
                            switch issued {
                            case .failure(let error): call.fail(error)
                            case .success(let token):
                                call.respond { b in
                                    let m = b.arena.message(etcdserverpb__authenticate_response__init)
                                    m.pointee.header = b.header(context.header(revision: result.revision))
                                    m.pointee.token = b.arena.cString(token)
                                    return m
                                }
                            }
                        }
                    }
                }) {
                    call.fail(error)
                }
            }
        }
    }

    private func propose(_ call: ServerCall, _ bytes: [UInt8], field: Field, caller: AuthCaller) {
        let context = self.context
        let id = context.nextRequestID()
        let data = bytes.withUnsafeBytes { InternalRequestCodec.encode(id: id, field: field, request: $0, caller: caller) }
        if data.count > context.limits.maxRequestBytes { return call.fail(.requestTooLarge) }
        if let error = context.propose(data, id: id, on: call.eventLoop, done: { result in
            Self.answer(call, result, context: context)
        }) {
            call.fail(error)
        }
    }

    private static func answer(_ call: ServerCall, _ result: ApplyResult, context: ServerContext) {
        switch result.outcome {
        case .failed(let error): return call.fail(EtcdServerError(error))
        case .skipped: return call.fail(EtcdServerError(.internal, "etcdserver: request was already applied"))
        case .applied(let response):
            let header = context.header(revision: result.revision)
            guard case .auth(let auth) = response else { return call.finish(.ok) }
            call.respond { b in
                // Every empty Auth*Response is the header alone (field 1), and UserGet's, UserList's and
                // RoleList's lists are each field 2 of strings: one message shape serves all of them.
                let m = b.arena.message(etcdserverpb__auth_user_list_response__init)
                m.pointee.header = b.header(header)
                switch auth {
                case .user(let roles): (m.pointee.n_users, m.pointee.users) = ClusterServices.cStrings(roles, b.arena)
                case .names(let names): (m.pointee.n_users, m.pointee.users) = ClusterServices.cStrings(names, b.arena)
                case .role(let permissions):
                    let r = b.arena.message(etcdserverpb__auth_role_get_response__init)
                    r.pointee.header = m.pointee.header
                    if !permissions.isEmpty {
                        let list = b.arena.pointerArray(of: Authpb__Permission.self, count: permissions.count)
                        for (i, p) in permissions.enumerated() {
                            let e = b.arena.message(authpb__permission__init)
                            e.pointee.permtype = Authpb__Permission__Type(rawValue: UInt32(p.kind.rawValue))
                            e.pointee.key = b.arena.binary(p.key)
                            e.pointee.range_end = b.arena.binary(p.rangeEnd)
                            list[i] = e
                        }
                        (r.pointee.n_perm, r.pointee.perm) = (permissions.count, list)
                    }
                    return UnsafeMutableRawPointer(r).assumingMemoryBound(to: Etcdserverpb__AuthUserListResponse.self)
                case .done, .authenticated, .userInvalidated, .disabled: break
                }
                return m
            }
        }
    }
}

private func cString(_ p: UnsafeMutablePointer<CChar>?) -> String { InternalRequestCodec.cString(p) }
