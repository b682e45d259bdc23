/// One side's TLS flags (client: --cert-file ...; peer: --peer-cert-file ...), etcd's transport.TLSInfo.
public struct TLSFlags: Sendable, Equatable {
    public var certFile = ""
    public var keyFile = ""
    public var trustedCAFile = ""
    public var clientCertAuth = false
    public var crlFile = ""
    /// Peer side only (--peer-cert-allowed-cn).
    public var allowedCN = ""
    /// --peer-cert-allowed-hostname / --client-cert-allowed-hostname.
    public var allowedHostname = ""
    /// --auto-tls / --peer-auto-tls: self-signed certificates in <data-dir>/fixtures/{client,peer}.
    public var autoTLS = false
    /// --experimental-peer-skip-client-san-verification (peer side only).
    public var skipClientSANVerify = false

    public init() {}

    /// etcd's TLSInfo.Empty(): no certificate pair given.
    public var isEmpty: Bool { certFile.isEmpty && keyFile.isEmpty }
}

/// Everything `keel` was asked to do, typed and validated. Built only by `ConfigParser`.
public struct ServerConfig: Sendable, Equatable {
    public enum ClusterState: String, Sendable { case new, existing }
    public enum LogLevel: String, Sendable, CaseIterable { case debug, info, warn, error, dpanic, panic, fatal }
    public enum Logger: String, Sendable { case zap, capnslog }
    public enum Metrics: String, Sendable { case basic, extensive }

    /// --auto-compaction-mode + --auto-compaction-retention, interpreted as etcd does.
    public enum AutoCompaction: Sendable, Equatable {
        case disabled
        /// Keep this much history (a bare number means hours).
        case periodic(Duration)
        /// Keep this many revisions.
        case revision(Int64)
    }

    // Member
    public var name: String
    /// --data-dir, or "\(name).etcd" when empty (etcd's default).
    public var dataDir: String
    /// --wal-dir; nil means "\(dataDir)/member/wal".
    public var walDir: String?
    public var snapshotCount: UInt64
    public var heartbeatIntervalMs: UInt64
    public var electionTimeoutMs: UInt64
    public var initialElectionTickAdvance: Bool
    public var listenPeerURLs: [EtcdURL]
    public var listenClientURLs: [EtcdURL]
    public var listenMetricsURLs: [EtcdURL]
    public var maxSnapshots: UInt64
    public var maxWALs: UInt64
    /// The flag as given: 0 means the default quota, negative means no quota.
    public var quotaBackendBytes: Int64
    public var maxTxnOps: UInt64
    public var maxRequestBytes: UInt64
    public var maxConcurrentStreams: UInt32
    public var grpcKeepAliveMinTime: Duration
    public var grpcKeepAliveInterval: Duration
    public var grpcKeepAliveTimeout: Duration
    /// How often watchers created with progress_notify hear the current revision when idle.
    public var watchProgressNotifyInterval: Duration

    // Clustering
    public var initialAdvertisePeerURLs: [EtcdURL]
    public var advertiseClientURLs: [EtcdURL]
    public var initialCluster: InitialCluster
    public var initialClusterState: ClusterState
    public var initialClusterToken: String
    public var strictReconfigCheck: Bool
    /// --force-new-cluster: restart an existing member as the only member of its cluster (disaster recovery).
    public var forceNewCluster: Bool
    public var preVote: Bool
    public var autoCompaction: AutoCompaction
    public var enableV2: Bool
    public var enableGRPCGateway: Bool

    // HTTP
    /// --cors origins; contains "*" when all are allowed (etcd's default).
    public var cors: Set<String>
    /// --host-whitelist; contains "*" when all are allowed (etcd's default).
    public var hostWhitelist: Set<String>

    // Security: TLS for client and peer listeners (and for our own connections to members).
    public var clientTLS = TLSFlags()
    public var peerTLS = TLSFlags()
    /// --cipher-suites as BoringSSL names (TLS 1.2; TLS 1.3 suites are not configurable); empty = library default.
    public var cipherSuites: [String] = []
    /// --cipher-suites as given (etcd's Go names), for logs.
    public var cipherSuiteNames: [String] = []

    // Auth (only the "simple" token provider exists)
    public var authToken: String
    public var bcryptCost: UInt64
    public var authTokenTTLSeconds: UInt64

    // Monitoring and logging
    public var enablePprof: Bool
    public var metrics: Metrics
    public var logger: Logger
    /// --log-level, forced to .debug by the deprecated --debug, as etcd 3.4 does.
    public var logLevel: LogLevel
    public var logOutputs: [String]

    /// "ETCD_X=value" for each environment variable that set a flag; etcd logs these at info level.
    public var environmentUsed: [String]

    /// 2 GiB: what --quota-backend-bytes=0 means (etcdserver.DefaultQuotaBytes).
    public static let defaultQuotaBytes: Int64 = 2 * 1024 * 1024 * 1024
    /// etcd warns above 8 GiB (etcdserver.MaxQuotaBytes).
    public static let maxSuggestedQuotaBytes: Int64 = 8 * 1024 * 1024 * 1024

    /// The backend size limit in bytes, nil when the quota is disabled (negative flag).
    public var effectiveQuotaBackendBytes: Int64? {
        if quotaBackendBytes < 0 { return nil }
        return quotaBackendBytes == 0 ? ServerConfig.defaultQuotaBytes : quotaBackendBytes
    }

    /// The WAL directory actually used.
    public var effectiveWALDir: String { walDir ?? dataDir + "/member/wal" }

    /// Raft election timeout in heartbeat ticks (etcd's ElectionTicks).
    public var electionTicks: Int {
        precondition(heartbeatIntervalMs > 0, "validated by ConfigParser")
        return Int(electionTimeoutMs / heartbeatIntervalMs)
    }

    /// This member's id as etcd derives it at bootstrap; nil when our name isn't in --initial-cluster.
    public var localMemberID: UInt64? { initialCluster.member(named: name)?.id }
}
