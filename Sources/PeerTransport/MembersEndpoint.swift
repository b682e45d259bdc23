import NIOCore
import RPC
import Transport

/// `/keel.raft.Peer/Members`: how a member joining an existing cluster (`--initial-cluster-state existing`)
/// learns the cluster id and the member list, including the id `MemberAdd` gave it — etcd's
/// GetClusterFromRemotePeers, which reads `/members` from the peers. The caller knows no cluster id yet,
/// so this call carries none; it reveals only what `member list` shows.
enum MembersEndpoint {
    static let path = "/keel.raft.Peer/Members"

    static func serve(_ call: ServerCall, handler: PeerMessageHandler) {
        guard let bytes = handler.clusterMembers() else {
            return call.finish(GRPCStatus(.unavailable, "this member cannot describe its cluster yet"))
        }
        call.respond(size: bytes.count) { out in out.copyBytes(from: bytes) }
    }
}

extension PeerTransport {
    /// Asks the member at `text` (a peer URL) for its cluster description (whatever its handler's
    /// `clusterMembers()` returned); fails if it does not answer within `timeout`. Which peers to ask, and
    /// whether an answer will do, is the joining member's call (KeelServer.fetchJoinIdentity).
    public static func fetchClusterMembers(from text: String, group: EventLoopGroup, tls: TLSClientSecurity? = nil,
                                           timeout: TimeAmount = .seconds(2)) async throws -> [UInt8] {
        let url = try PeerURL(parsing: text)
        let eventLoop = group.next()
        let connection = try await PeerConnection.dial(url, on: eventLoop, timeout: timeout, tls: tls).get()
        defer { connection.close() }
        let promise = eventLoop.makePromise(of: [UInt8].self)
        eventLoop.execute {
            var headers = HTTP2Headers([
                (":method", "POST"), (":scheme", url.scheme), (":path", MembersEndpoint.path),
                (":authority", url.authority), ("content-type", "application/grpc"), ("te", "trailers"),
            ])
            headers.append("user-agent", "keel-join")
            guard let call = connection.openCall(headers: headers, maxMessageBytes: 4 << 20) else {
                return promise.fail(GRPCStatus(.unavailable, "connection closing"))
            }
            var reply: [UInt8]?
            call.onMessage = { message in reply = Array(message.readableBytesView) }
            call.onClose = { status in
                if status.code == .ok, let reply { promise.succeed(reply) } else { promise.fail(status) }
            }
            var frame = ByteBuffer()
            frame.writeInteger(UInt8(0))
            frame.writeInteger(UInt32(0))
            call.write(frame)
            call.closeSend()
        }
        eventLoop.scheduleTask(in: timeout) { promise.fail(GRPCStatus(.deadlineExceeded, "no answer from \(text)")) }
        return try await promise.futureResult.get()
    }
}
