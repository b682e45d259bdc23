/// etcd's authpb types as the applied state holds them.
public struct AuthPermission: Sendable, Equatable {
    /// authpb.Permission.Type: READ = 0, WRITE = 1, READWRITE = 2.
    public enum Kind: Int32, Sendable { case read = 0, write = 1, readWrite = 2 }
    public var kind: Kind
    public var key: [UInt8]
    /// Empty: the single key; [0]: every key from `key` on; otherwise the end of a half-open range.
    public var rangeEnd: [UInt8]

    public init(kind: Kind, key: [UInt8], rangeEnd: [UInt8]) {
        (self.kind, self.key, self.rangeEnd) = (kind, key, rangeEnd)
    }
}

public struct AuthUser: Sendable, Equatable {
    public var name: String
    /// The bcrypt hash (empty for a user added with no password).
    public var password: [UInt8]
    /// Sorted, as etcd keeps them.
    public var roles: [String]
    public var noPassword: Bool

    public init(name: String, password: [UInt8], roles: [String] = [], noPassword: Bool = false) {
        (self.name, self.password, self.roles, self.noPassword) = (name, password, roles, noPassword)
    }

    public var hasRootRole: Bool { roles.contains(AuthState.rootRole) }
}

public struct AuthRole: Sendable, Equatable {
    public var name: String
    /// Sorted by key, as etcd keeps them.
    public var permissions: [AuthPermission]

    public init(name: String, permissions: [AuthPermission] = []) {
        (self.name, self.permissions) = (name, permissions)
    }
}

/// Who sent a request, as its proposer resolved it (etcd's AuthInfo, carried in the log entry's header).
/// `revision` is the auth revision the caller's credentials were checked against; 0 means no user.
public struct AuthCaller: Sendable, Equatable {
    public var username: String
    public var revision: UInt64

    public init(username: String, revision: UInt64) {
        (self.username, self.revision) = (username, revision)
    }

    public static let anonymous = AuthCaller(username: "", revision: 0)
}

/// An auth request as applied from the log (etcd's InternalRaftRequest auth fields). Passwords arrive
/// hashed by the proposer, so every member stores the same hash and no plain password reaches the log.
public enum AuthOp: Sendable, Equatable {
    case enable
    case disable
    /// `tokenPrefix` is the proposer's random simple-token prefix; the applied token is "prefix.index".
    case authenticate(name: String, tokenPrefix: String)
    case userAdd(name: String, hashedPassword: [UInt8], noPassword: Bool)
    case userDelete(name: String)
    case userChangePassword(name: String, hashedPassword: [UInt8])
    case userGrantRole(user: String, role: String)
    case userRevokeRole(user: String, role: String)
    case userGet(name: String)
    case userList
    case roleAdd(name: String)
    case roleDelete(name: String)
    case roleGet(name: String)
    case roleList
    case roleGrantPermission(role: String, permission: AuthPermission)
    case roleRevokePermission(role: String, key: [UInt8], rangeEnd: [UInt8])

    /// etcd's needAdminPermission: everything but Authenticate, UserGet and RoleGet (those two check
    /// for themselves: a user may read itself and its own roles).
    var needsAdmin: Bool {
        switch self {
        case .authenticate, .userGet, .roleGet: return false
        default: return true
        }
    }
}

public enum AuthResponse: Sendable, Equatable {
    case done
    /// A user authenticated at log index `index`; the simple token is "tokenPrefix.index".
    case authenticated(name: String, token: String)
    case user(roles: [String])
    case role(permissions: [AuthPermission])
    case names([String])
    /// What changed that token holders must know (revokes their simple tokens).
    case userInvalidated(name: String)
    case disabled
}
