import Backend

/// Users, roles and whether auth is on: applied state, changed only by log entries, persisted in the
/// auth buckets in the same LMDB transaction as the entry's consistent index (etcd's authStore).
public struct AuthState: Sendable, Equatable {
    public static let rootUser = "root"
    public static let rootRole = "root"

    public private(set) var enabled = false
    /// Grows with every change to users, roles or the enabled flag; 1 on a new store, as etcd's.
    public private(set) var revision: UInt64 = 1
    public private(set) var users: [String: AuthUser] = [:]
    public private(set) var roles: [String: AuthRole] = [:]
    /// Each user's permissions merged across its roles (etcd's rangePermCache), rebuilt on every change.
    private var merged: [String: MergedPermissions] = [:]

    public init() {}

    // MARK: Permission checks (etcd's isOpPermitted / IsAdminPermitted)

    /// `rangeEnd` empty: the single `key`.
    public func checkRead(_ caller: AuthCaller, key: [UInt8], rangeEnd: [UInt8]) throws(EtcdError) {
        try checkOp(caller, key: key, rangeEnd: rangeEnd, write: false)
    }

    public func checkWrite(_ caller: AuthCaller, key: [UInt8], rangeEnd: [UInt8]) throws(EtcdError) {
        try checkOp(caller, key: key, rangeEnd: rangeEnd, write: true)
    }

    private func checkOp(_ caller: AuthCaller, key: [UInt8], rangeEnd: [UInt8], write: Bool) throws(EtcdError) {
        guard enabled else { return }
        if caller.revision == 0 { throw .userEmpty }
        if caller.revision < revision { throw .authOldRevision }
        guard let user = users[caller.username] else { throw .permissionDenied }
        if user.hasRootRole { return }
        guard let perms = merged[caller.username],
              perms.permits(key: key, rangeEnd: rangeEnd, write: write) else { throw .permissionDenied }
    }

    public func checkAdmin(_ caller: AuthCaller?) throws(EtcdError) {
        guard enabled else { return }
        guard let caller, !caller.username.isEmpty else { throw .userEmpty }
        guard let user = users[caller.username] else { throw .userNotFound }
        if !user.hasRootRole { throw .permissionDenied }
    }

    /// A Txn's compares need read, its ops what each op needs, recursively (etcd's checkTxnAuth).
    public func checkTxn(_ caller: AuthCaller, _ t: TxnRequest) throws(EtcdError) {
        guard enabled else { return }
        for c in t.compare { try checkRead(caller, key: c.key, rangeEnd: c.rangeEnd) }
        for op in t.success { try checkTxnOp(caller, op) }
        for op in t.failure { try checkTxnOp(caller, op) }
    }

    private func checkTxnOp(_ caller: AuthCaller, _ op: RequestOp) throws(EtcdError) {
        switch op {
        case .none: break
        case .range(let r): try checkRead(caller, key: r.key, rangeEnd: r.rangeEnd)
        case .put(let p): try checkWrite(caller, key: p.key, rangeEnd: [])
        case .deleteRange(let d):
            if d.prevKV { try checkRead(caller, key: d.key, rangeEnd: d.rangeEnd) }
            try checkWrite(caller, key: d.key, rangeEnd: d.rangeEnd)
        case .txn(let nested): try checkTxn(caller, nested)
        }
    }

    /// Whether `password` may be checked for `name`: the stored hash, or why not (etcd's CheckPassword
    /// before the bcrypt comparison).
    public func passwordHash(of name: String) throws(EtcdError) -> [UInt8] {
        guard enabled else { throw .authNotEnabled }
        guard let user = users[name] else { throw .authFailed }
        if user.noPassword { throw .noPasswordUser }
        return user.password
    }

    public func hasRole(_ user: String, _ role: String) -> Bool { users[user]?.roles.contains(role) ?? false }

    // MARK: Applying an auth entry

    /// Applies `op` for `caller` at log `index`, writing what changes into `tx`. Throws a request-level
    /// error before writing anything.
    mutating func apply(_ op: AuthOp, caller: AuthCaller?, index: UInt64, tx: inout WriteTx) throws -> AuthResponse {
        if op.needsAdmin { try checkAdmin(caller) }
        switch op {
        case .enable:
            if enabled { return .done }
            guard let root = users[Self.rootUser] else { throw EtcdError.rootUserNotExist }
            guard root.hasRootRole else { throw EtcdError.rootRoleNotExist }
            enabled = true
            try tx.put(.auth, Self.enabledKey, [1])
            return .done  // etcd does not move the revision on enable
        case .disable:
            if !enabled { return .done }
            enabled = false
            try tx.put(.auth, Self.enabledKey, [0])
            try commitRevision(&tx)
            return .disabled
        case .authenticate(let name, let prefix):
            guard enabled else { throw EtcdError.authNotEnabled }
            guard let user = users[name], !user.noPassword else { throw EtcdError.authFailed }
            return .authenticated(name: name, token: "\(prefix).\(index)")
        case .userAdd(let name, let hashed, let noPassword):
            if name.isEmpty { throw EtcdError.userEmpty }
            if users[name] != nil { throw EtcdError.userAlreadyExist }
            try put(AuthUser(name: name, password: noPassword ? [] : hashed, noPassword: noPassword), &tx)
        case .userDelete(let name):
            if enabled && name == Self.rootUser { throw EtcdError.invalidAuthMgmt }
            guard users[name] != nil else { throw EtcdError.userNotFound }
            users[name] = nil
            _ = try tx.delete(.authUsers, Array(name.utf8))
            try commit(&tx)
            return .userInvalidated(name: name)
        case .userChangePassword(let name, let hashed):
            guard var user = users[name] else { throw EtcdError.userNotFound }
            user.password = hashed
            try put(user, &tx)
            return .userInvalidated(name: name)
        case .userGrantRole(let name, let role):
            guard var user = users[name] else { throw EtcdError.userNotFound }
            if role != Self.rootRole && roles[role] == nil { throw EtcdError.roleNotFound }
            if user.roles.contains(role) { return .done }
            user.roles.append(role)
            user.roles.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            try put(user, &tx)
        case .userRevokeRole(let name, let role):
            if enabled && name == Self.rootUser && role == Self.rootRole { throw EtcdError.invalidAuthMgmt }
            guard var user = users[name] else { throw EtcdError.userNotFound }
            guard let i = user.roles.firstIndex(of: role) else { throw EtcdError.roleNotGranted }
            user.roles.remove(at: i)
            try put(user, &tx)
        case .userGet(let name):
            if name != caller?.username { try checkAdmin(caller) }  // a user may read itself
            guard let user = users[name] else { throw EtcdError.userNotFound }
            return .user(roles: user.roles)
        case .userList:
            return .names(users.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        case .roleAdd(let name):
            if name.isEmpty { throw EtcdError.roleEmpty }
            if roles[name] != nil { throw EtcdError.roleAlreadyExist }
            try put(AuthRole(name: name), &tx)
        case .roleDelete(let name):
            if enabled && name == Self.rootRole { throw EtcdError.invalidAuthMgmt }
            guard roles[name] != nil else { throw EtcdError.roleNotFound }
            roles[name] = nil
            _ = try tx.delete(.authRoles, Array(name.utf8))
            for var user in users.values where user.roles.contains(name) {
                user.roles.removeAll { $0 == name }
                users[user.name] = user
                try tx.put(.authUsers, Array(user.name.utf8), AuthCodec.encode(user))
            }
            try commit(&tx)
        case .roleGet(let name):
            if !hasRole(caller?.username ?? "", name) { try checkAdmin(caller) }  // ... and its own roles
            guard let role = roles[name] else { throw EtcdError.roleNotFound }
            return .role(permissions: role.permissions)
        case .roleList:
            return .names(roles.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        case .roleGrantPermission(let name, let permission):
            guard var role = roles[name] else { throw EtcdError.roleNotFound }
            if let i = role.permissions.firstIndex(where: { $0.key == permission.key && $0.rangeEnd == permission.rangeEnd }) {
                role.permissions[i].kind = permission.kind
            } else {
                role.permissions.append(permission)
                // etcd sorts by key only, with a stable order among equal keys.
                role.permissions = role.permissions.enumerated().sorted { a, b in
                    a.element.key == b.element.key ? a.offset < b.offset
                        : a.element.key.lexicographicallyPrecedes(b.element.key)
                }.map(\.element)
            }
            try put(role, &tx)
        case .roleRevokePermission(let name, let key, let rangeEnd):
            guard var role = roles[name] else { throw EtcdError.roleNotFound }
            let before = role.permissions.count
            role.permissions.removeAll { $0.key == key && $0.rangeEnd == rangeEnd }
            if role.permissions.count == before { throw EtcdError.permissionNotGranted }
            try put(role, &tx)
        }
        return .done
    }

    private mutating func put(_ user: AuthUser, _ tx: inout WriteTx) throws {
        users[user.name] = user
        try tx.put(.authUsers, Array(user.name.utf8), AuthCodec.encode(user))
        try commit(&tx)
    }

    private mutating func put(_ role: AuthRole, _ tx: inout WriteTx) throws {
        roles[role.name] = role
        try tx.put(.authRoles, Array(role.name.utf8), AuthCodec.encode(role))
        try commit(&tx)
    }

    /// A change to users or roles: a new revision (stale tokens and headers are refused) and new merged permissions.
    private mutating func commit(_ tx: inout WriteTx) throws {
        try commitRevision(&tx)
        rebuildMerged()
    }

    private mutating func commitRevision(_ tx: inout WriteTx) throws {
        revision += 1
        try tx.put(.auth, Self.revisionKey, bigEndianBytes(revision))
    }

    private mutating func rebuildMerged() {
        merged = users.mapValues { user in
            MergedPermissions(user.roles.compactMap { roles[$0]?.permissions }.flatMap { $0 })
        }
    }

    // MARK: The auth buckets (etcd's keys)

    static let enabledKey = Array("authEnabled".utf8)
    static let revisionKey = Array("authRevision".utf8)

    static func load(_ tx: some BackendReading) throws -> AuthState {
        var s = AuthState()
        s.enabled = try tx.get(.auth, enabledKey) == [1]
        if let rev = try tx.get(.auth, revisionKey) {
            guard rev.count == 8 else { throw EtcdError.backendFailure("malformed auth revision") }
            s.revision = max(1, rev.withUnsafeBytes { readBigEndian(UnsafeRawBufferPointer($0), at: 0) })
        }
        try tx.scan(.authUsers, from: []) { _, v in
            let u = try AuthCodec.decodeUser(Array(v))
            s.users[u.name] = u
            return true
        }
        try tx.scan(.authRoles, from: []) { _, v in
            let r = try AuthCodec.decodeRole(Array(v))
            s.roles[r.name] = r
            return true
        }
        s.rebuildMerged()
        return s
    }
}
