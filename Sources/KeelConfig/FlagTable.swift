import Foundation

/// What Keel does with a flag. A flag is never silently ignored: it either works, or starts
/// with a warning naming it (tuning knobs), or refuses to start (features that change safety or
/// meaning: TLS, discovery, proxy, ...).
///
/// `.implemented` is a claim that the server behaves differently when the flag changes. Each such
/// flag has an end-to-end proof in Tests/InteropTests/FlagEffectTests.swift (its `proofs` table must
/// list exactly the implemented flags), and Tests/KeelConfigTests/FlagTableTruthTests.swift checks
/// every other flag warns or refuses by name. Move a flag to `.implemented` only together with its proof.
enum FlagSupport: Sendable, Equatable {
    case implemented
    /// Accepted; a warning naming the flag when its value differs from the default.
    case warnWhenChanged(String)
    /// Refused (before touching the data dir) when its value differs from the default.
    case refuseWhenChanged(String)
    /// etcd 3.4's own `ignored` legacy flags: accepted anywhere, with etcd's warning
    /// ("flag \"-x\" is no longer supported - ignoring.") whatever the value.
    case ignoredLegacy
}

enum FlagSection: String, Sendable, CaseIterable {
    case member = "Member"
    case clustering = "Clustering"
    case proxy = "v2 Proxy (not supported by Keel)"
    case security = "Security"
    case auth = "Auth"
    case monitoring = "Profiling and Monitoring"
    case logging = "Logging"
    case experimental = "Experimental feature"
    case unsafe = "Unsafe feature"
    case legacy = "Legacy (ignored, as in etcd)"
}

struct FlagSpec: Sendable {
    let name: String
    let kind: FlagKind
    /// Default as flag text, parsed by the same code as user input.
    let defaultText: String
    let section: FlagSection
    let support: FlagSupport
    let usage: String
    /// What --help shows as the default when it isn't `defaultText` (e.g. "${name}.etcd").
    var helpDefault: String? = nil

    /// etcd's env var for this flag: ETCD_ + upper-cased name with dashes as underscores.
    var environmentKey: String { FlagTable.environmentKey(for: name) }
}

/// Every flag etcd 3.4's `etcd` command defines (etcdmain/config.go), in --help order.
enum FlagTable {
    static func environmentKey(for flag: String) -> String {
        "ETCD_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    static let unixs = "unixs:// (TLS over a unix socket) is not implemented in Keel; use https://"
    static let discovery = "discovery bootstrap is not implemented in Keel; list the members with --initial-cluster"
    static let proxy = "etcd's v2 proxy mode is not implemented in Keel"
    static let notYet = "not implemented in Keel yet; the value is ignored"
    static let stderrOnly = "Keel always logs etcd's capnslog text format to stderr; the value is ignored"

    static let all: [FlagSpec] = member + clustering + proxyFlags + security + auth + monitoring + logging
        + experimental + unsafe + legacy

    static let byName: [String: FlagSpec] = {
        var d: [String: FlagSpec] = [:]
        for f in all {
            precondition(d[f.name] == nil, "duplicate flag \(f.name)")
            d[f.name] = f
        }
        return d
    }()

    private static let member: [FlagSpec] = [
        FlagSpec(name: "name", kind: .string, defaultText: "default", section: .member, support: .implemented,
                 usage: "Human-readable name for this member."),
        FlagSpec(name: "data-dir", kind: .string, defaultText: "", section: .member, support: .implemented,
                 usage: "Path to the data directory.", helpDefault: "${name}.etcd"),
        FlagSpec(name: "wal-dir", kind: .string, defaultText: "", section: .member, support: .implemented,
                 usage: "Path to the dedicated wal directory."),
        FlagSpec(name: "snapshot-count", kind: .unsigned, defaultText: "100000", section: .member, support: .implemented,
                 usage: "Number of committed transactions to trigger a snapshot to disk."),
        FlagSpec(name: "heartbeat-interval", kind: .unsigned, defaultText: "100", section: .member, support: .implemented,
                 usage: "Time (in milliseconds) of a heartbeat interval."),
        FlagSpec(name: "election-timeout", kind: .unsigned, defaultText: "1000", section: .member, support: .implemented,
                 usage: "Time (in milliseconds) for an election to timeout."),
        FlagSpec(name: "initial-election-tick-advance", kind: .bool, defaultText: "true", section: .member,
                 support: .implemented,
                 usage: "Whether to fast-forward initial election ticks on boot for faster election."),
        FlagSpec(name: "listen-peer-urls", kind: .urls(exception: ""), defaultText: "http://localhost:2380",
                 section: .member, support: .implemented, usage: "List of URLs to listen on for peer traffic."),
        FlagSpec(name: "listen-client-urls", kind: .urls(exception: ""), defaultText: "http://localhost:2379",
                 section: .member, support: .implemented, usage: "List of URLs to listen on for client traffic."),
        FlagSpec(name: "max-snapshots", kind: .unsigned, defaultText: "5", section: .member, support: .implemented,
                 usage: "Maximum number of snapshot files to retain (0 is unlimited)."),
        FlagSpec(name: "max-wals", kind: .unsigned, defaultText: "5", section: .member, support: .implemented,
                 usage: "Maximum number of wal files to retain (0 is unlimited)."),
        FlagSpec(name: "quota-backend-bytes", kind: .signed, defaultText: "0", section: .member, support: .implemented,
                 usage: "Raise alarms when backend size exceeds the given quota (0 defaults to 2 GiB, negative disables)."),
        FlagSpec(name: "backend-batch-interval", kind: .duration, defaultText: "0", section: .member,
                 support: .warnWhenChanged(notYet), usage: "Maximum time before committing the backend transaction.",
                 helpDefault: ""),
        FlagSpec(name: "backend-batch-limit", kind: .signed, defaultText: "0", section: .member,
                 support: .warnWhenChanged(notYet), usage: "Maximum operations before committing the backend transaction."),
        FlagSpec(name: "max-txn-ops", kind: .unsigned, defaultText: "128", section: .member, support: .implemented,
                 usage: "Maximum number of operations permitted in a transaction."),
        FlagSpec(name: "max-request-bytes", kind: .unsigned, defaultText: "1572864", section: .member, support: .implemented,
                 usage: "Maximum client request size in bytes the server will accept."),
        FlagSpec(name: "max-concurrent-streams", kind: .uint32, defaultText: "4294967295", section: .member,
                 support: .implemented, usage: "Maximum concurrent streams that each client can open at a time.",
                 helpDefault: "math.MaxUint32"),
        FlagSpec(name: "grpc-keepalive-min-time", kind: .duration, defaultText: "5s", section: .member,
                 support: .warnWhenChanged(notYet),
                 usage: "Minimum duration interval that a client should wait before pinging server."),
        FlagSpec(name: "grpc-keepalive-interval", kind: .duration, defaultText: "2h", section: .member,
                 support: .warnWhenChanged(notYet),
                 usage: "Frequency duration of server-to-client ping to check if a connection is alive (0 to disable)."),
        FlagSpec(name: "grpc-keepalive-timeout", kind: .duration, defaultText: "20s", section: .member,
                 support: .warnWhenChanged(notYet),
                 usage: "Additional duration of wait before closing a non-responsive connection (0 to disable)."),
    ]

    private static let clustering: [FlagSpec] = [
        FlagSpec(name: "initial-advertise-peer-urls", kind: .urls(exception: ""), defaultText: "http://localhost:2380",
                 section: .clustering, support: .implemented,
                 usage: "List of this member's peer URLs to advertise to the rest of the cluster."),
        FlagSpec(name: "initial-cluster", kind: .string, defaultText: "default=http://localhost:2380",
                 section: .clustering, support: .implemented, usage: "Initial cluster configuration for bootstrapping."),
        FlagSpec(name: "initial-cluster-state", kind: .choice(["new", "existing"]), defaultText: "new",
                 section: .clustering, support: .implemented, usage: "Initial cluster state ('new' or 'existing')."),
        FlagSpec(name: "initial-cluster-token", kind: .string, defaultText: "etcd-cluster", section: .clustering,
                 support: .implemented, usage: "Initial cluster token for the etcd cluster during bootstrap."),
        FlagSpec(name: "advertise-client-urls", kind: .urls(exception: ""), defaultText: "http://localhost:2379",
                 section: .clustering, support: .implemented,
                 usage: "List of this member's client URLs to advertise to the public."),
        FlagSpec(name: "discovery", kind: .string, defaultText: "", section: .clustering,
                 support: .refuseWhenChanged(discovery), usage: "Discovery URL used to bootstrap the cluster."),
        FlagSpec(name: "discovery-fallback", kind: .choice(["proxy", "exit"]), defaultText: "proxy", section: .clustering,
                 support: .refuseWhenChanged(discovery), usage: "Expected behavior ('exit' or 'proxy') when discovery services fails."),
        FlagSpec(name: "discovery-proxy", kind: .string, defaultText: "", section: .clustering,
                 support: .refuseWhenChanged(discovery), usage: "HTTP proxy to use for traffic to discovery service."),
        FlagSpec(name: "discovery-srv", kind: .string, defaultText: "", section: .clustering,
                 support: .refuseWhenChanged(discovery), usage: "DNS srv domain used to bootstrap the cluster."),
        FlagSpec(name: "discovery-srv-name", kind: .string, defaultText: "", section: .clustering,
                 support: .refuseWhenChanged(discovery), usage: "Suffix to the dns srv name queried when bootstrapping."),
        FlagSpec(name: "strict-reconfig-check", kind: .bool, defaultText: "true", section: .clustering, support: .implemented,
                 usage: "Reject reconfiguration requests that would cause quorum loss."),
        FlagSpec(name: "pre-vote", kind: .bool, defaultText: "false", section: .clustering,
                 support: .implemented, usage: "Enable to run an additional Raft election phase."),
        FlagSpec(name: "auto-compaction-retention", kind: .string, defaultText: "0", section: .clustering,
                 support: .implemented, usage: "Auto compaction retention length. 0 means disable auto compaction."),
        FlagSpec(name: "auto-compaction-mode", kind: .string, defaultText: "periodic", section: .clustering,
                 support: .implemented,
                 usage: "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention."),
        FlagSpec(name: "enable-v2", kind: .bool, defaultText: "false", section: .clustering,
                 support: .warnWhenChanged("the etcd v2 API is not implemented in Keel; only v3 requests are served"),
                 usage: "Accept etcd V2 client requests."),
        FlagSpec(name: "enable-grpc-gateway", kind: .bool, defaultText: "true", section: .clustering,
                 support: .implemented,
                 usage: "Enable the JSON gateway (HTTP) on the client port."),
    ]

    private static let proxyFlags: [FlagSpec] = [
        FlagSpec(name: "proxy", kind: .choice(["off", "readonly", "on"]), defaultText: "off", section: .proxy,
                 support: .refuseWhenChanged(proxy), usage: "Proxy mode setting ('off', 'readonly' or 'on')."),
        FlagSpec(name: "proxy-failure-wait", kind: .unsigned, defaultText: "5000", section: .proxy,
                 support: .refuseWhenChanged(proxy), usage: "Time (in milliseconds) an endpoint will be held in a failed state."),
        FlagSpec(name: "proxy-refresh-interval", kind: .unsigned, defaultText: "30000", section: .proxy,
                 support: .refuseWhenChanged(proxy), usage: "Time (in milliseconds) of the endpoints refresh interval."),
        FlagSpec(name: "proxy-dial-timeout", kind: .unsigned, defaultText: "1000", section: .proxy,
                 support: .refuseWhenChanged(proxy), usage: "Time (in milliseconds) for a dial to timeout."),
        FlagSpec(name: "proxy-write-timeout", kind: .unsigned, defaultText: "5000", section: .proxy,
                 support: .refuseWhenChanged(proxy), usage: "Time (in milliseconds) for a write to timeout."),
        FlagSpec(name: "proxy-read-timeout", kind: .unsigned, defaultText: "0", section: .proxy,
                 support: .refuseWhenChanged(proxy), usage: "Time (in milliseconds) for a read to timeout."),
    ]

    private static func tlsFlag(_ name: String, _ kind: FlagKind, _ usage: String) -> FlagSpec {
        FlagSpec(name: name, kind: kind, defaultText: kind == .bool ? "false" : "", section: .security,
                 support: .implemented, usage: usage)
    }

    private static let security: [FlagSpec] = [
        tlsFlag("cert-file", .string, "Path to the client server TLS cert file."),
        tlsFlag("key-file", .string, "Path to the client server TLS key file."),
        tlsFlag("client-cert-auth", .bool, "Enable client cert authentication."),
        tlsFlag("client-crl-file", .string, "Path to the client certificate revocation list file."),
        tlsFlag("client-cert-allowed-hostname", .string, "Allowed TLS hostname for client cert authentication."),
        tlsFlag("trusted-ca-file", .string, "Path to the client server TLS trusted CA cert file."),
        tlsFlag("auto-tls", .bool, "Client TLS using generated certificates."),
        tlsFlag("peer-cert-file", .string, "Path to the peer server TLS cert file."),
        tlsFlag("peer-key-file", .string, "Path to the peer server TLS key file."),
        tlsFlag("peer-client-cert-auth", .bool, "Enable peer client cert authentication."),
        tlsFlag("peer-trusted-ca-file", .string, "Path to the peer server TLS trusted CA file."),
        tlsFlag("peer-cert-allowed-cn", .string, "Required CN for client certs connecting to the peer endpoint."),
        tlsFlag("peer-cert-allowed-hostname", .string, "Allowed TLS hostname for inter peer authentication."),
        tlsFlag("peer-auto-tls", .bool, "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided."),
        tlsFlag("peer-crl-file", .string, "Path to the peer certificate revocation list file."),
        tlsFlag("cipher-suites", .stringList, "Comma-separated list of supported TLS cipher suites between client/server and peers."),
        // Keel sends no CORS headers at all, so browsers already refuse cross-origin reads: ignoring a
        // narrower list never exposes more than asked.
        FlagSpec(name: "cors", kind: .urls(exception: "*"), defaultText: "*", section: .security,
                 support: .warnWhenChanged("Keel sends no CORS headers (browsers refuse every cross-origin read); the value is ignored"),
                 usage: "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all)."),
        // etcd checks the Host of plain-HTTP requests (the JSON gateway included) against this list to
        // stop DNS rebinding; Keel does not check yet, and says so.
        FlagSpec(name: "host-whitelist", kind: .uniqueStrings, defaultText: "*", section: .security,
                 support: .warnWhenChanged("not implemented in Keel yet: any Host header is accepted, also by the JSON gateway; the value is ignored"),
                 usage: "Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all)."),
    ]

    private static let auth: [FlagSpec] = [
        // A malformed value or unreadable key refuses to start, as etcd does ("auth: invalid auth options").
        FlagSpec(name: "auth-token", kind: .string, defaultText: "simple", section: .auth, support: .implemented,
                 usage: "Specify a v3 authentication token type and its options ('simple' or 'jwt')."),
        FlagSpec(name: "bcrypt-cost", kind: .unsigned, defaultText: "10", section: .auth, support: .implemented,
                 usage: "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31."),
        FlagSpec(name: "auth-token-ttl", kind: .unsigned, defaultText: "300", section: .auth, support: .implemented,
                 usage: "Time (in seconds) of the auth-token-ttl."),
    ]

    private static let monitoring: [FlagSpec] = [
        FlagSpec(name: "enable-pprof", kind: .bool, defaultText: "false", section: .monitoring,
                 support: .warnWhenChanged("Keel has no /debug/pprof endpoint (it is not a Go program)"),
                 usage: "Enable runtime profiling data via HTTP server."),
        FlagSpec(name: "metrics", kind: .choice(["basic", "extensive"]), defaultText: "basic", section: .monitoring,
                 support: .implemented,
                 usage: "Set level of detail for exported metrics, specify 'extensive' to include server side grpc histogram metrics."),
        FlagSpec(name: "listen-metrics-urls", kind: .urls(exception: ""), defaultText: "", section: .monitoring, support: .implemented,
                 usage: "List of URLs to listen on for the metrics and health endpoints."),
    ]

    private static let logging: [FlagSpec] = [
        FlagSpec(name: "logger", kind: .string, defaultText: "capnslog", section: .logging, support: .warnWhenChanged(stderrOnly),
                 usage: "Specify 'zap' for structured logging or 'capnslog'."),
        FlagSpec(name: "log-outputs", kind: .uniqueStrings, defaultText: "default", section: .logging,
                 support: .warnWhenChanged(stderrOnly),
                 usage: "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets."),
        FlagSpec(name: "log-level", kind: .string, defaultText: "info", section: .logging, support: .implemented,
                 usage: "Configures log level. Only supports debug, info, warn, error, panic, or fatal."),
        FlagSpec(name: "log-output", kind: .uniqueStrings, defaultText: "default", section: .logging,
                 support: .warnWhenChanged(stderrOnly),
                 usage: "[TO BE DEPRECATED IN v3.5] use '--log-outputs'."),
        FlagSpec(name: "debug", kind: .bool, defaultText: "false", section: .logging, support: .implemented,
                 usage: "[TO BE DEPRECATED IN v3.5] Enable debug-level logging. Use '--log-level=debug' instead."),
        FlagSpec(name: "log-package-levels", kind: .string, defaultText: "", section: .logging,
                 support: .warnWhenChanged(notYet), usage: "[TO BE DEPRECATED IN v3.5] Per-package log levels."),
        FlagSpec(name: "config-file", kind: .string, defaultText: "", section: .logging,
                 support: .refuseWhenChanged("configuration files are not supported by Keel; pass flags or ETCD_* environment variables instead"),
                 usage: "Path to the server configuration file (not supported by Keel)."),
        FlagSpec(name: "version", kind: .bool, defaultText: "false", section: .logging, support: .implemented,
                 usage: "Print the version and exit."),
    ]

    /// Keel's leader always reports renewals through the log and every member persists the remaining TTL.
    static let leaseCheckpointsAlwaysOn = "Keel always checkpoints and persists lease remaining TTLs, so a new leader continues the old leader's clock; this flag changes nothing"

    private static func experimentalFlag(_ name: String, _ kind: FlagKind, _ def: String, _ usage: String) -> FlagSpec {
        FlagSpec(name: name, kind: kind, defaultText: def, section: .experimental, support: .warnWhenChanged(notYet), usage: usage)
    }

    private static let experimental: [FlagSpec] = [
        experimentalFlag("experimental-initial-corrupt-check", .bool, "false", "Enable to check data corruption before serving any client/peer traffic."),
        experimentalFlag("experimental-corrupt-check-time", .duration, "0s", "Duration of time between cluster corruption check passes."),
        experimentalFlag("experimental-enable-v2v3", .string, "", "Serve v2 requests through the v3 backend under a given prefix."),
        experimentalFlag("experimental-backend-bbolt-freelist-type", .string, "array", "The freelist type that the boltdb backend uses (array and map are supported types)."),
        FlagSpec(name: "experimental-enable-lease-checkpoint", kind: .bool, defaultText: "false", section: .experimental,
                 support: .warnWhenChanged(leaseCheckpointsAlwaysOn),
                 usage: "Enable to persist lease remaining TTL to prevent indefinite auto-renewal of long lived leases."),
        FlagSpec(name: "experimental-enable-lease-checkpoint-persist", kind: .bool, defaultText: "false", section: .experimental,
                 support: .warnWhenChanged(leaseCheckpointsAlwaysOn),
                 usage: "Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases."),
        experimentalFlag("experimental-compaction-batch-limit", .signed, "1000", "Sets the maximum revisions deleted in each compaction batch."),
        FlagSpec(name: "experimental-peer-skip-client-san-verification", kind: .bool, defaultText: "false",
                 section: .experimental, support: .implemented,
                 usage: "Skip verification of SAN field in client certificate for peer connections."),
        FlagSpec(name: "experimental-watch-progress-notify-interval", kind: .duration, defaultText: "10m", section: .experimental,
                 support: .implemented, usage: "Duration of periodic watch progress notifications."),
        experimentalFlag("experimental-warning-apply-duration", .duration, "100ms", "Time duration after which a warning is generated if request takes more time."),
    ]

    private static let unsafe: [FlagSpec] = [
        FlagSpec(name: "force-new-cluster", kind: .bool, defaultText: "false", section: .unsafe, support: .implemented,
                 usage: "Force to create a new one member cluster."),
        FlagSpec(name: "unsafe-no-fsync", kind: .bool, defaultText: "false", section: .unsafe,
                 support: .warnWhenChanged("Keel always fsyncs its WAL; the flag is ignored"),
                 usage: "Disables fsync, unsafe, will cause data loss."),
    ]

    /// etcd's `ignored` list: accepted anywhere, only warned about.
    private static let legacy: [FlagSpec] = [
        "cluster-active-size", "cluster-remove-delay", "cluster-sync-interval", "config", "force",
        "max-result-buffer", "max-retry-attempts", "peer-heartbeat-interval", "peer-election-timeout",
        "retry-interval", "snapshot", "v", "vv", "test.coverprofile", "test.outputdir",
    ].map { FlagSpec(name: $0, kind: .legacyIgnored, defaultText: "", section: .legacy, support: .ignoredLegacy, usage: "") }
}
