import RPC

/// What a KeelClient call can fail with.
public enum EtcdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with a non-OK gRPC status (etcd's error text in `message`,
    /// e.g. "etcdserver: requested lease not found").
    case server(code: GRPCStatus.Code, message: String)
    /// No endpoint could be reached (the last connection error as text).
    case unavailable(String)
    /// A response that does not decode as the expected message.
    case malformedResponse(String)
    /// A watch was canceled because its start revision is compacted.
    case compacted(compactRevision: Int64)
    /// A watch was canceled by the server for another reason.
    case watchCanceled(reason: String)
    /// A lease kept alive is gone (expired or revoked).
    case leaseExpired(id: Int64)
    /// The client was closed.
    case closed

    public var description: String {
        switch self {
        case .server(let code, let message): return "etcd error \(code): \(message)"
        case .unavailable(let text): return "no endpoint available: \(text)"
        case .malformedResponse(let text): return "malformed response: \(text)"
        case .compacted(let rev): return "required revision has been compacted (compact revision \(rev))"
        case .watchCanceled(let reason): return "watch canceled: \(reason)"
        case .leaseExpired(let id): return "lease \(id) expired or was revoked"
        case .closed: return "client closed"
        }
    }

    init(_ status: GRPCStatus) {
        self = .server(code: status.code, message: status.message)
    }

    /// Whether the failure says the member or the connection is unusable right now, so the
    /// call may go to the next endpoint (etcd answers "no leader", "leader changed", "stopped" etc.
    /// with Unavailable too).
    public var isUnavailable: Bool {
        switch self {
        case .server(let code, _): return code == .unavailable
        case .unavailable: return true
        default: return false
        }
    }
}

extension EtcdError {
    /// etcd's answers that clientv3 meets by authenticating again: "invalid auth token" and "revision of
    /// auth store is old".
    static func isStaleToken(_ status: GRPCStatus) -> Bool {
        (status.code == .unauthenticated && status.message == "etcdserver: invalid auth token")
            || (status.code == .invalidArgument && status.message == "etcdserver: revision of auth store is old")
    }
}
