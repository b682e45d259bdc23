import Atomics
import KeelConfig
import MVCC

/// What every service needs: the store, the write path, this member's identity and the request limits.
final class ServerContext: Sendable {
    struct Limits: Sendable {
        var maxRequestBytes: Int
        var maxTxnOps: Int
    }

    struct Member: Sendable {
        let id: UInt64
        let name: String
        let peerURLs: [String]
        let clientURLs: [String]
    }

    let store: MVCCStore
    let pipeline: WritePipeline
    let clusterID: UInt64
    let memberID: UInt64
    let members: [Member]
    let limits: Limits
    let dataDir: String
    private let requestIDs: ManagedAtomic<UInt64>

    init(store: MVCCStore, pipeline: WritePipeline, clusterID: UInt64, memberID: UInt64, members: [Member],
         limits: Limits, dataDir: String) {
        self.store = store
        self.pipeline = pipeline
        self.clusterID = clusterID
        self.memberID = memberID
        self.members = members
        self.limits = limits
        self.dataDir = dataDir
        // etcd's request ids: member id bits + a counter, so ids from different members never collide.
        self.requestIDs = ManagedAtomic(memberID << 16)
    }

    func nextRequestID() -> UInt64 {
        requestIDs.loadThenWrappingIncrement(ordering: .relaxed)
    }

    @inline(__always)
    func header(revision: Int64) -> HeaderFields {
        HeaderFields(clusterID: clusterID, memberID: memberID, revision: revision, raftTerm: pipeline.term)
    }
}
