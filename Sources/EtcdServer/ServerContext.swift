import KeelConfig
import NIOCore
import MVCC
import Raft
import Transport

/// What every service needs: the store, the Raft loop, this member's identity and the request limits.
final class ServerContext: Sendable {
    struct Limits: Sendable {
        var maxRequestBytes: Int
        var maxTxnOps: Int
    }

    let store: MVCCStore
    let raft: RaftLoop
    let published: RaftPublished
    let members: MemberRegistry
    let clusterID: UInt64
    let memberID: UInt64
    let limits: Limits
    let dataDir: String
    let name: String
    let strictReconfigCheck: Bool
    let requestIDs: RequestIDGenerator
    let watches: WatchHub
    /// --experimental-watch-progress-notify-interval.
    let watchProgressInterval: TimeAmount
    /// The reused connection to the leader, for requests only it answers.
    let leaderChannel = LeaderChannel()
    /// TLS for calls to another member's https client URL (forwarding to the leader).
    let clientDialer: TLSClientSecurity?
    /// Who calls, and what they may do.
    let auth: AuthGate

    init(store: MVCCStore, raft: RaftLoop, published: RaftPublished, members: MemberRegistry, clusterID: UInt64,
         memberID: UInt64, limits: Limits, dataDir: String, name: String, strictReconfigCheck: Bool, watches: WatchHub,
         watchProgressInterval: TimeAmount, auth: AuthGate, clientDialer: TLSClientSecurity? = nil) {
        self.auth = auth
        self.clientDialer = clientDialer
        self.watches = watches
        self.watchProgressInterval = watchProgressInterval
        self.store = store
        self.raft = raft
        self.published = published
        self.members = members
        self.clusterID = clusterID
        self.memberID = memberID
        self.limits = limits
        self.dataDir = dataDir
        self.name = name
        self.strictReconfigCheck = strictReconfigCheck
        self.requestIDs = RequestIDGenerator(memberID: memberID)
    }

    func nextRequestID() -> UInt64 { requestIDs.next() }

    @inline(__always)
    func header(revision: Int64) -> HeaderFields {
        HeaderFields(clusterID: clusterID, memberID: memberID, revision: revision, raftTerm: published.term)
    }

    /// Proposes a mutation already encoded as a `keelpb.InternalRequest` carrying `id`; `done` gets the
    /// result of applying it on this member, on `loop` if given.
    func propose(_ data: [UInt8], id: UInt64, on loop: EventLoop? = nil,
                 done: @escaping @Sendable (ApplyResult) -> Void) -> EtcdServerError? {
        raft.propose(data, id: id, on: loop) { outcome in
            switch outcome {
            case .applied(let r): done(r)
            case .alarm: done(ApplyResult(outcome: .applied(.noop), revision: 0))
            case .failed(let e):
                done(ApplyResult(outcome: .failed(EtcdError(code: e.status.code.rawValue, message: e.status.message)), revision: 0))
            }
        }
    }
}
