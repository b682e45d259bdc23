import Foundation
import XCTest

/// A member started right after `member add` asks the peers of its --initial-cluster for the cluster. The
/// add returns once the leader applied it; a follower may answer a moment later still without the new
/// member. etcd takes the first answer and exits ("member count is unequal"); Keel asks the next peer.
final class JoinTests: XCTestCase {
    func testJoiningMemberSkipsAPeerThatHasNotAppliedTheAddYet() throws {
        guard ServerKind.subject == .keel else { throw XCTSkip("peer proxies follow Keel's peer transport") }
        let cluster = try FaultCluster(size: 3)
        defer { cluster.shutdown() }
        let leader = try cluster.awaitLeader()
        let stale = (leader + 1) % 3
        // Nothing reaches `stale` from its peers any more, so it never learns of the add; it still answers
        // the guest, which is pointed at its own peer port (not the proxy) and asks it first.
        cluster.cutInbound(stale)
        let direct = "\(cluster.members[stale].name)=http://127.0.0.1:\(cluster.members[stale].ports.peer)"
        var staleList = ""
        let (guest, id) = try cluster.addGuest(name: "g", via: leader) { printed in
            let entries = printed.split(separator: ",").map(String.init)
            let rest = entries.filter { !$0.hasPrefix("\(cluster.members[stale].name)=") }
            return ([direct] + rest).joined(separator: ",")
        } beforeStart: { staleList = (try? Etcdctl(endpoint: cluster.members[stale].endpoint).succeed(["member", "list"])) ?? "" }
        XCTAssertEqual(staleList.split(separator: "\n").count, 3, "the cut-off member already knew the guest:\n\(staleList)")
        let list = try Etcdctl(endpoint: guest.endpoint).succeed(["member", "list"])
        XCTAssertEqual(list.split(separator: "\n").count, 4, list)
        XCTAssertTrue(list.contains(String(id, radix: 16)), list)

        cluster.restoreInbound(stale)
        try cluster.removeGuest(guest, id: id, via: try cluster.awaitLeader())
    }
}
