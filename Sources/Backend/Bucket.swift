/// The named LMDB databases ("buckets", after bbolt) the backend creates at open.
/// All are created up front so later features (lease, auth, membership, alarms) have room
/// without reopening the environment.
public enum Bucket: Int, CaseIterable, Sendable {
    /// revision (17 bytes, big-endian main '_' sub, optional 't' tombstone mark) → encoded KeyValue.
    case key
    /// consistent_index, compaction revisions, cluster/member ids.
    case meta
    case lease
    case auth
    case authUsers
    case authRoles
    case members
    case alarm

    /// The LMDB database name.
    public var name: String {
        switch self {
        case .key: return "key"
        case .meta: return "meta"
        case .lease: return "lease"
        case .auth: return "auth"
        case .authUsers: return "authUsers"
        case .authRoles: return "authRoles"
        case .members: return "members"
        case .alarm: return "alarm"
        }
    }
}
