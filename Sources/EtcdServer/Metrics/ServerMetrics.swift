import KeelConfig
import NIOCore
import Prometheus
import RPC
import Synchronization

/// /metrics: etcd's metric names for what Keel has the same thing for, in Prometheus' text format through
/// swift-prometheus. Per-call metrics are atomic counters bumped as calls end; server state is read into
/// gauges when scraped. What Keel does not measure is left out rather than invented.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// `--metrics extensive`: per-method handling-time histograms, as etcd's grpc_prometheus histograms.
    let extensive: Bool

    private let hasLeader, isLeader, isLearner, committed, applied: Gauge
    private let dbTotalSize, keys, currentRevision, compactRevision, watchers: Gauge
    private let leaderChanges, slowResyncs, puts, deletes: Counter
    /// Monotonic sources already counted elsewhere, turned into counter increments at each scrape.
    private let lastSeen = Mutex<(leaderChanges: Int64, slowResyncs: Int64, puts: Int64, deletes: Int64)>((0, 0, 0, 0))
    /// etcd_disk_wal_fsync_duration_seconds, fed by the Raft loop after each WAL fdatasync.
    let walFsync: DurationHistogram

    /// prometheus.DefBuckets, which grpc_prometheus' handling-time histogram uses.
    static let latencyBuckets: [Duration] = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                             .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                             .milliseconds(2500), .seconds(5), .seconds(10)]

    init(extensive: Bool) {
        self.extensive = extensive
        let r = registry
        func gauge(_ name: String, _ help: String) -> Gauge {
            r.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
        }
        func counter(_ name: String, _ help: String) -> Counter {
            r.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
        }
        r.makeGauge(descriptor: MetricNameDescriptor(metricName: "etcd_server_version", unitName: "",
                                                     helpText: "Which version is running. 1 for 'server_version' label with current version."),
                    labels: [("server_version", KeelVersion.etcdVersion)]).set(to: 1)
        r.makeGauge(descriptor: MetricNameDescriptor(metricName: "etcd_cluster_version", unitName: "",
                                                     helpText: "Which version is running. 1 for 'cluster_version' label with current cluster version"),
                    labels: [("cluster_version", Self.majorMinor(KeelVersion.etcdClusterVersion))]).set(to: 1)
        hasLeader = gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.")
        isLeader = gauge("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.")
        isLearner = gauge("etcd_server_is_learner", "Whether or not this member is a learner. 1 if is, 0 otherwise.")
        leaderChanges = counter("etcd_server_leader_changes_seen_total", "The number of leader changes seen.")
        committed = gauge("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.")
        applied = gauge("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.")
        dbTotalSize = gauge("etcd_mvcc_db_total_size_in_bytes",
                            "Total size of the underlying database physically allocated in bytes.")
        keys = gauge("etcd_debugging_mvcc_keys_total", "Total number of keys.")
        currentRevision = gauge("etcd_debugging_mvcc_current_revision", "The current revision of store.")
        compactRevision = gauge("etcd_debugging_mvcc_compact_revision", "The revision of the last compaction in store.")
        watchers = gauge("etcd_debugging_mvcc_watcher_total", "Total number of watchers.")
        puts = counter("etcd_mvcc_put_total", "Total number of puts seen by this member.")
        deletes = counter("etcd_mvcc_delete_total", "Total number of deletes seen by this member.")
        // etcd's buckets: prometheus.ExponentialBuckets(0.001, 2, 14), 1 ms to 8.192 s.
        walFsync = r.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: "etcd_disk_wal_fsync_duration_seconds", unitName: "",
                                             helpText: "The latency distributions of fsync called by WAL."),
            buckets: (0..<14).map { .microseconds(1000 << $0) })
        slowResyncs = counter("keel_watch_slow_consumer_resyncs_total",
                              "Times a watcher left the synced set because its client read too slowly.")
    }

    /// "3.4.0" -> "3.4", as etcd labels etcd_cluster_version.
    static func majorMinor(_ version: String) -> String {
        version.split(separator: ".").prefix(2).joined(separator: ".")
    }

    /// The metrics object of one gRPC method (grpc_prometheus pre-creates every code at 0, and so do we).
    func method(path: String, handler: GRPCHandler) -> GRPCMethodMetrics {
        let parts = path.split(separator: "/")
        let service = parts.first.map(String.init) ?? path
        let name = parts.count > 1 ? String(parts[1]) : path
        let type: String
        switch handler {
        case .unary: type = "unary"
        case .streaming: type = "bidi_stream"
        }
        let labels = [("grpc_method", name), ("grpc_service", service), ("grpc_type", type)]
        let handled = MethodMetrics.codeNames.map { code in
            registry.makeCounter(descriptor: MetricNameDescriptor(
                metricName: "grpc_server_handled_total", unitName: "",
                helpText: "Total number of RPCs completed on the server, regardless of success or failure."),
                labels: [("grpc_code", code)] + labels)
        }
        let latency = extensive ? registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: "grpc_server_handling_seconds", unitName: "",
                                             helpText: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server."),
            labels: labels, buckets: Self.latencyBuckets) : nil
        return MethodMetrics(handled: handled, latency: latency)
    }

    /// The exposition text, with server state read now.
    func render(_ context: ServerContext) -> ByteBuffer {
        let store = context.store
        let published = context.published
        hasLeader.set(to: published.hasLeader ? 1 : 0)
        isLeader.set(to: published.isLeader ? 1 : 0)
        isLearner.set(to: published.isLearner ? 1 : 0)
        committed.set(to: Double(published.committed))
        applied.set(to: Double(published.applied))
        dbTotalSize.set(to: Double(store.backend.sizeInUse))
        keys.set(to: Double(store.indexedKeyCount))
        currentRevision.set(to: Double(store.currentRevision))
        compactRevision.set(to: Double(max(store.compactedRevision, 0)))
        watchers.set(to: Double(context.watches.count))
        let changes = Int64(published.leaderChanges)
        let resyncs = Int64(context.watches.slowResyncs.load(ordering: .relaxed))
        let (putCount, deleteCount) = store.writeCounts
        let deltas = lastSeen.withLock { last in
            defer {
                last = (max(last.leaderChanges, changes), max(last.slowResyncs, resyncs),
                        max(last.puts, putCount), max(last.deletes, deleteCount))
            }
            return (max(changes - last.leaderChanges, 0), max(resyncs - last.slowResyncs, 0),
                    max(putCount - last.puts, 0), max(deleteCount - last.deletes, 0))
        }
        leaderChanges.increment(by: deltas.0)
        slowResyncs.increment(by: deltas.1)
        puts.increment(by: deltas.2)
        deletes.increment(by: deltas.3)
        var out: [UInt8] = []
        out.reserveCapacity(16 << 10)
        registry.emit(into: &out)
        return ByteBuffer(bytes: out)
    }
}

/// One method's counters: an atomic increment per call; the histogram (a lock) only when extensive.
final class MethodMetrics: GRPCMethodMetrics {
    /// Go's codes.Code.String(), indexed by the code's number.
    static let codeNames = GRPCStatus.Code.goNames
    private let handledByCode: [Counter]
    private let latency: DurationHistogram?

    init(handled: [Counter], latency: DurationHistogram?) {
        precondition(handled.count == Self.codeNames.count)
        self.handledByCode = handled
        self.latency = latency
    }

    var measuresLatency: Bool { latency != nil }

    func handled(_ code: GRPCStatus.Code, startedAt: NIODeadline) {
        handledByCode[code.rawValue].increment()
        if let latency {
            latency.record(.nanoseconds((NIODeadline.now() - startedAt).nanoseconds))
        }
    }
}
