/// Turns parsed flag values into a `ServerConfig`, applying etcd's defaults, derivations and
/// validation (embed.Config.Validate, etcdmain's config, embed.StartEtcd), in etcd's order so
/// the first error reported is the one etcd would report.
enum ConfigBuilder {
    struct Failure: Error {
        let message: String
        let exitCode: Int32
    }

    /// etcd's default --initial-cluster, computed from the default name and advertise URL.
    static let defaultInitialCluster = "default=http://localhost:2380"
    /// embed.maxElectionMs.
    static let maxElectionMs: UInt64 = 50_000

    static func verify(_ m: String) -> Failure {
        Failure(message: "error verifying flags, \(m). See 'keel --help'.", exitCode: 1)
    }

    static func refuse(_ m: String) -> Failure { Failure(message: "keel: refusing to start: \(m)", exitCode: 2) }

    static func build(_ f: FlagSet) -> Result<(ServerConfig, [String]), Failure> {
        var warnings: [String] = []

        // Logging (embed.Config.setupLogging runs first in Validate).
        guard let logger = ServerConfig.Logger(rawValue: f.value("logger").string) else {
            return .failure(verify("unknown logger option \"\(f.value("logger").string)\""))
        }
        var logOutputs = f.value("log-outputs").strings
        if f.isSet("log-output") {
            if f.isSet("log-outputs") {
                return .failure(verify("both '--log-output' and '--log-outputs' are set; only set '--log-outputs'"))
            }
            warnings.append("'--log-output' flag has been deprecated! Please use '--log-outputs'!")
            logOutputs = f.value("log-output").strings
        }
        if logger == .capnslog && logOutputs.count != 1 {
            return .failure(verify("--logger=capnslog supports only 1 value in '--log-outputs', got \(goQuoted(logOutputs))"))
        }
        guard var logLevel = ServerConfig.LogLevel(rawValue: f.value("log-level").string) else {
            // etcd 3.4 panics here, which exits with status 2.
            return .failure(Failure(message: "unknown level \"\(f.value("log-level").string)\" (--log-level supports debug, info, warn, error, panic, fatal)", exitCode: 2))
        }
        if f.value("debug").bool { logLevel = .debug }

        // URLs: listen URLs must be bindable, advertised URLs need a host.
        let listenPeer = f.value("listen-peer-urls").urls
        let listenClient = f.value("listen-client-urls").urls
        let listenMetrics = f.value("listen-metrics-urls").urls
        for u in listenPeer + listenClient + listenMetrics where u.scheme != .unix && u.scheme != .unixs {
            if !u.hasBindableHost { return .failure(verify("expected IP in URL for binding (\(u.canonical))")) }
        }
        let advertisePeer = f.value("initial-advertise-peer-urls").urls
        for u in advertisePeer where u.host.isEmpty {
            return .failure(verify("--initial-advertise-peer-urls \"\(joined(advertisePeer))\" must be \"host:port\" (unexpected empty host (\(u.canonical)))"))
        }
        // etcd drops the default advertise URL when only the listen URL was given.
        let missingAdvertise = f.isSet("listen-client-urls") && !f.isSet("advertise-client-urls")
        let advertiseClient = missingAdvertise ? [] : f.value("advertise-client-urls").urls
        for u in advertiseClient where u.host.isEmpty {
            return .failure(verify("--advertise-client-urls \"\(joined(advertiseClient))\" must be \"host:port\" (unexpected empty host (\(u.canonical)))"))
        }

        // Raft timing.
        let tick = f.value("heartbeat-interval").unsigned
        let election = f.value("election-timeout").unsigned
        if tick == 0 { return .failure(verify("--heartbeat-interval must be >0 (set to 0ms)")) }
        if election == 0 { return .failure(verify("--election-timeout must be >0 (set to 0ms)")) }
        if tick.multipliedReportingOverflow(by: 5).overflow || 5 * tick > election {
            return .failure(verify("--election-timeout[\(election)ms] should be at least as 5 times as --heartbeat-interval[\(tick)ms]"))
        }
        if election > maxElectionMs {
            return .failure(verify("--election-timeout[\(election)ms] is too long, and should be set less than \(maxElectionMs)ms"))
        }

        if missingAdvertise {
            return .failure(Failure(message: "error verifying flags, --advertise-client-urls is required when --listen-client-urls is set explicitly. See 'keel --help'.\nWhen listening on specific address(es), this etcd process must advertise accessible url(s) to each connected client.", exitCode: 1))
        }

        let mode = f.value("auto-compaction-mode").string
        guard mode == "" || mode == "periodic" || mode == "revision" else {
            return .failure(verify("unknown auto-compaction-mode \"\(mode)\""))
        }
        if f.value("experimental-enable-lease-checkpoint-persist").bool && !f.value("experimental-enable-lease-checkpoint").bool {
            return .failure(verify("setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint"))
        }

        // TLS over unix sockets is not implemented: such a URL would silently downgrade security.
        for name in ["listen-peer-urls", "listen-client-urls", "listen-metrics-urls", "initial-advertise-peer-urls", "advertise-client-urls"] {
            if let u = f.value(name).urls.first(where: { $0.scheme == .unixs }) {
                return .failure(refuse("\(f.origin(of: name)) has \(u.canonical), but \(FlagTable.unixs)"))
            }
        }
        let tls: TLSSettings
        switch tlsSettings(f, listenClient: listenClient, listenPeer: listenPeer, listenMetrics: listenMetrics, warnings: &warnings) {
        case .success(let t): tls = t
        case .failure(let e): return .failure(e)
        }

        // Derived values (etcdmain/etcd.go, embed.UpdateDefaultClusterFromName).
        let name = f.value("name").string
        var dataDir = f.value("data-dir").string
        if dataDir.isEmpty {
            dataDir = "\(name).etcd"
            warnings.append("no data-dir provided, using default data-dir ./\(dataDir)")
        }
        var initialClusterText = f.value("initial-cluster").string
        if name != "default" && initialClusterText == defaultInitialCluster {
            let n = name.isEmpty ? "default" : name
            initialClusterText = advertisePeer.map { "\(n)=\($0.canonical)" }.joined(separator: ",")
        }
        let token = f.value("initial-cluster-token").string
        let initialCluster: InitialCluster
        switch InitialCluster.parse(initialClusterText, token: token) {
        case .success(let c): initialCluster = c
        case .failure(let e):
            // etcd only parses it for a fresh data dir; Keel rejects a malformed value always.
            return .failure(Failure(message: "error setting up initial cluster: \(e.message)", exitCode: 1))
        }
        for m in initialCluster.members {
            if let u = m.peerURLs.first(where: { $0.scheme == .unixs }) {
                return .failure(refuse("\(f.origin(of: "initial-cluster")) has \(m.name)=\(u.canonical), but \(FlagTable.unixs)"))
            }
        }

        let autoCompaction: ServerConfig.AutoCompaction
        switch parseRetention(mode: mode, f.value("auto-compaction-retention").string) {
        case .success(let c): autoCompaction = c
        case .failure(let e): return .failure(Failure(message: e.message, exitCode: 1))
        }

        let authToken = f.value("auth-token").string  // parsed (and refused when malformed) at start
        var bcryptCost = f.value("bcrypt-cost").unsigned
        if bcryptCost < 4 || bcryptCost > 31 {
            warnings.append("use default bcrypt cost 10 instead of the invalid given cost \(bcryptCost) (--bcrypt-cost must be 4...31)")
            bcryptCost = 10
        }
        let quota = f.value("quota-backend-bytes").signed
        if quota > ServerConfig.maxSuggestedQuotaBytes {
            warnings.append("--quota-backend-bytes \(quota) exceeds the maximum suggested \(ServerConfig.maxSuggestedQuotaBytes) bytes (8 GiB)")
        }

        let corsValue = f.value("cors")
        var cors = Set(corsValue.urls.map(\.canonical))
        if case .urls(_, let exception?) = corsValue { cors.insert(exception) }
        let walDir = f.value("wal-dir").string

        var config = ServerConfig(
            name: name,
            dataDir: dataDir,
            walDir: walDir.isEmpty ? nil : walDir,
            snapshotCount: f.value("snapshot-count").unsigned,
            heartbeatIntervalMs: tick,
            electionTimeoutMs: election,
            initialElectionTickAdvance: f.value("initial-election-tick-advance").bool,
            listenPeerURLs: listenPeer,
            listenClientURLs: listenClient,
            listenMetricsURLs: listenMetrics,
            maxSnapshots: f.value("max-snapshots").unsigned,
            maxWALs: f.value("max-wals").unsigned,
            quotaBackendBytes: quota,
            maxTxnOps: f.value("max-txn-ops").unsigned,
            maxRequestBytes: f.value("max-request-bytes").unsigned,
            maxConcurrentStreams: UInt32(f.value("max-concurrent-streams").unsigned),
            grpcKeepAliveMinTime: f.value("grpc-keepalive-min-time").duration,
            grpcKeepAliveInterval: f.value("grpc-keepalive-interval").duration,
            grpcKeepAliveTimeout: f.value("grpc-keepalive-timeout").duration,
            watchProgressNotifyInterval: f.value("experimental-watch-progress-notify-interval").duration,
            initialAdvertisePeerURLs: advertisePeer,
            advertiseClientURLs: advertiseClient,
            initialCluster: initialCluster,
            initialClusterState: ServerConfig.ClusterState(rawValue: f.value("initial-cluster-state").string)!,
            initialClusterToken: token,
            strictReconfigCheck: f.value("strict-reconfig-check").bool,
            forceNewCluster: f.value("force-new-cluster").bool,
            preVote: f.value("pre-vote").bool,
            autoCompaction: autoCompaction,
            enableV2: f.value("enable-v2").bool,
            enableGRPCGateway: f.value("enable-grpc-gateway").bool,
            cors: cors,
            hostWhitelist: Set(f.value("host-whitelist").strings),
            authToken: authToken,
            bcryptCost: bcryptCost,
            authTokenTTLSeconds: f.value("auth-token-ttl").unsigned,
            enablePprof: f.value("enable-pprof").bool,
            metrics: ServerConfig.Metrics(rawValue: f.value("metrics").string)!,
            logger: logger,
            logLevel: logLevel,
            logOutputs: logOutputs,
            environmentUsed: [])
        config.clientTLS = tls.client
        config.peerTLS = tls.peer
        config.cipherSuites = tls.cipherSuites
        config.cipherSuiteNames = tls.cipherSuiteNames
        return .success((config, warnings))
    }

    /// embed.parseCompactionRetention, except that a negative duration and a non-integer
    /// revision count are refused (etcd would take "1h" in revision mode as 3.6e12 revisions).
    static func parseRetention(mode: String, _ text: String) -> Result<ServerConfig.AutoCompaction, ConfigError> {
        let retention = text.isEmpty ? "0" : text
        if let n = GoParse.decimal(retention), n >= 0 {
            if n == 0 { return .success(.disabled) }
            if mode == "revision" { return .success(.revision(n)) }
            let (hours, overflow) = n.multipliedReportingOverflow(by: 3600)
            if overflow { return .failure(ConfigError("error parsing CompactionRetention: \"\(retention)\" hours is too long")) }
            return .success(.periodic(.seconds(hours)))
        }
        if mode == "revision" {
            return .failure(ConfigError("error parsing CompactionRetention: --auto-compaction-mode=revision needs a non-negative revision count, got \"\(retention)\""))
        }
        guard let ns = GoParse.duration(retention) else {
            return .failure(ConfigError("error parsing CompactionRetention: time: invalid duration \"\(retention)\""))
        }
        if ns < 0 { return .failure(ConfigError("error parsing CompactionRetention: negative duration \"\(retention)\"")) }
        return .success(ns == 0 ? .disabled : .periodic(.nanoseconds(ns)))
    }

    private static func joined(_ urls: [EtcdURL]) -> String { urls.map(\.canonical).joined(separator: ",") }
    private static func goQuoted(_ list: [String]) -> String { "[" + list.map { "\"\($0)\"" }.joined(separator: " ") + "]" }
}
