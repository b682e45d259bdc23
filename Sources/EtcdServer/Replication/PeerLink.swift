import Backend
import Foundation
import Logging
import MVCC
import PeerTransport
import Raft

/// Connects the peer transport to the Raft loop: received messages go to the loop's inbox, outgoing
/// snapshot messages get an image of the backend, and membership changes update the peer list.
final class PeerLink: PeerMessageHandler, @unchecked Sendable {  // `loop` is set once, before the transport starts
    private let store: MVCCStore
    private let members: MemberRegistry
    private let localID: UInt64
    private let snapDir: String
    private let logger: Logger
    weak var loop: RaftLoop?

    private let clusterID: UInt64

    init(store: MVCCStore, members: MemberRegistry, localID: UInt64, clusterID: UInt64, snapDir: String, logger: Logger) {
        self.clusterID = clusterID
        self.store = store
        self.members = members
        self.localID = localID
        self.snapDir = snapDir
        self.logger = logger
    }

    func receive(_ message: Message) {
        // A removed member's messages are refused, as etcd's transport does.
        guard !members.isRemoved(message.from) else { return }
        _ = loop?.inbox.tryPush(.message(message))
    }

    func receiveSnapshot(_ message: Message, imagePath: String) {
        guard let loop, loop.inbox.tryPush(.snapshotMessage(message, image: imagePath)) else {
            try? FileManager.default.removeItem(atPath: imagePath)
            return
        }
    }

    func reportUnreachable(_ peer: UInt64) {
        _ = loop?.inbox.tryPush(.unreachable(peer))
    }

    func reportSnapshot(_ peer: UInt64, status: SnapshotStatus) {
        _ = loop?.inbox.tryPush(.snapshotStatus(peer, status))
    }

    func isRemovedMember(_ peer: UInt64) -> Bool { members.isRemoved(peer) }

    func removedFromCluster(reportedBy peer: UInt64) {
        onRemoved()
    }

    /// Set once before the transport starts: stops this member (it learned it was removed).
    var onRemoved: @Sendable () -> Void = {}

    /// For members joining with `--initial-cluster-state existing`: the cluster id and the members.
    func clusterMembers() -> [UInt8]? {
        ClusterDescription(clusterID: clusterID, members: members.all).encoded()
    }

    /// The backend as it is now (its consistent index is at or past the snapshot's index: the follower
    /// skips the entries the image already holds).
    func makeSnapshotImage(for message: Message) throws -> String {
        let path = snapDir + "/outgoing-\(String(message.to, radix: 16))-\(UInt64.random(in: 1...UInt64.max)).tmp"
        let info = try store.writeImage(to: path)
        logger.info("sending database snapshot", metadata: [
            "to": "\(hex(message.to))", "bytes": "\(info.bytes)", "snapshot-index": "\(message.snapshot?.metadata.index ?? 0)",
            "consistent-index": "\(info.consistentIndex)"])
        return path
    }
}
