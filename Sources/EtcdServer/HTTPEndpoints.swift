import Gateway
import KeelConfig
import NIOCore
import Transport

/// Plain HTTP on the client port: `/version`, `/health`, `/metrics`, and etcd's JSON gateway under /v3/
/// (not on the metrics listener, where `gateway` is nil).
struct HTTPEndpoints: HTTPResponder {
    let context: ServerContext
    var gateway: GatewayResponder? = nil

    func respond(to request: HTTPRequest, on eventLoop: EventLoop) -> EventLoopFuture<HTTPResponse> {
        if let gateway, GatewayResponder.handles(request.path) {
            return gateway.respond(to: request, on: eventLoop)
        }
        return eventLoop.makeSucceededFuture(answer(request))
    }

    private func answer(_ request: HTTPRequest) -> HTTPResponse {
        switch request.path {
        case "/version":
            return .json(200, #"{"etcdserver":"\#(KeelVersion.etcdVersion)","etcdcluster":"\#(KeelVersion.etcdClusterVersion)"}"#)
        case "/health":
            // etcd: healthy when there is no alarm and this member knows a leader.
            if context.store.backend.isNoSpaceAlarmRaised {
                return .json(503, #"{"health":"false","reason":"ALARM NOSPACE"}"#)
            }
            if !context.published.hasLeader {
                return .json(503, #"{"health":"false","reason":"RAFT NO LEADER"}"#)
            }
            return .json(200, #"{"health":"true"}"#)
        case "/metrics":
            return HTTPResponse(status: 200, headers: [("content-type", "text/plain; version=0.0.4")],
                                body: ByteBuffer(string: metrics()))
        default:
            return HTTPResponse(status: 404, headers: [("content-type", "text/plain; charset=utf-8")],
                                body: ByteBuffer(string: "404 page not found\n"))
        }
    }

    private func metrics() -> String {
        let store = context.store
        let published = context.published
        return """
        # HELP etcd_mvcc_db_total_size_in_bytes Total size of the underlying database physically allocated in bytes.
        # TYPE etcd_mvcc_db_total_size_in_bytes gauge
        etcd_mvcc_db_total_size_in_bytes \(store.backend.sizeInUse)
        # HELP etcd_debugging_mvcc_current_revision The current revision of store.
        # TYPE etcd_debugging_mvcc_current_revision gauge
        etcd_debugging_mvcc_current_revision \(store.currentRevision)
        # HELP etcd_debugging_mvcc_compact_revision The revision of the last compaction in store.
        # TYPE etcd_debugging_mvcc_compact_revision gauge
        etcd_debugging_mvcc_compact_revision \(max(store.compactedRevision, 0))
        # HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.
        # TYPE etcd_server_has_leader gauge
        etcd_server_has_leader \(published.hasLeader ? 1 : 0)
        # HELP etcd_server_is_leader Whether or not this member is a leader. 1 if is, 0 otherwise.
        # TYPE etcd_server_is_leader gauge
        etcd_server_is_leader \(published.isLeader ? 1 : 0)
        # HELP etcd_server_leader_changes_seen_total The number of leader changes seen.
        # TYPE etcd_server_leader_changes_seen_total counter
        etcd_server_leader_changes_seen_total \(published.leaderChanges)
        # HELP etcd_server_is_learner Whether or not this member is a learner. 1 if is, 0 otherwise.
        # TYPE etcd_server_is_learner gauge
        etcd_server_is_learner \(published.isLearner ? 1 : 0)
        # HELP etcd_server_proposals_committed_total The total number of consensus proposals committed.
        # TYPE etcd_server_proposals_committed_total gauge
        etcd_server_proposals_committed_total \(published.committed)
        # HELP etcd_server_proposals_applied_total The total number of consensus proposals applied.
        # TYPE etcd_server_proposals_applied_total gauge
        etcd_server_proposals_applied_total \(published.applied)
        # HELP etcd_debugging_mvcc_watcher_total Total number of synced watchers.
        # TYPE etcd_debugging_mvcc_watcher_total gauge
        etcd_debugging_mvcc_watcher_total \(context.watches.count)
        # HELP keel_watch_slow_consumer_resyncs_total Times a watcher left the synced set because its client read too slowly.
        # TYPE keel_watch_slow_consumer_resyncs_total counter
        keel_watch_slow_consumer_resyncs_total \(context.watches.slowResyncs.load(ordering: .relaxed))
        # HELP etcd_mvcc_keys_total Total number of keys.
        # TYPE etcd_mvcc_keys_total gauge
        etcd_mvcc_keys_total \(store.indexedKeyCount)

        """
    }
}
