import MVCC
import Raft

/// Simple tokens live in memory only. etcd re-applies the log after its last snapshot at a restart, so the
/// Authenticate entries still in it mint their tokens again; Keel's backend skips entries it already holds,
/// so this reads those entries once at start and registers their tokens the same way.
enum SimpleTokenReplay {
    static func restore(from storage: MemoryStorage, upTo applied: UInt64, store: MVCCStore, tokens: AuthTokenProvider) throws {
        guard tokens is SimpleTokens else { return }  // JWTs need no state
        let auth = store.auth
        guard auth.enabled else { return }  // disabling auth ended every token
        let first = try storage.firstIndex()
        let last = min(applied, try storage.lastIndex())
        guard first <= last else { return }
        for e in try storage.entries(first, last + 1, maxSize: .max) where e.type == .normal && !e.data.isEmpty {
            guard case .write(.auth(let op))? = try? InternalRequestCodec.decodeEntry(e.data).request else { continue }
            switch op {
            case .authenticate(let name, let prefix):
                // Only for a user that may still hold one (the backend is newer than the entry).
                if let user = auth.users[name], !user.noPassword { tokens.applied(name: name, simpleToken: "\(prefix).\(e.index)") }
            case .userDelete(let name), .userChangePassword(let name, _):
                tokens.invalidate(user: name)
            case .disable:
                tokens.disable()
            default:
                break
            }
        }
    }
}
