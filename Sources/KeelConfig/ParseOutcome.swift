/// A configuration problem, with the text printed to the operator.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What `keel` should do after reading its command line and environment.
public enum ParseOutcome: Sendable, Equatable {
    /// Start the server. `warnings` are to be logged once at startup (etcd logs the same ones).
    case run(ServerConfig, warnings: [String])
    /// `--version`: print `KeelVersion.versionText` to stdout and exit 0.
    case printVersion
    /// `-h` / `--help`: print the text to stdout and exit 0.
    case printHelp(String)
    /// Print `message` to stderr and exit with `exitCode`, before touching the data dir.
    ///
    /// Exit codes follow etcd 3.4: 2 for what Go's flag package rejects (unknown flag, bad value,
    /// missing argument) and for an unknown --log-level (etcd panics); 1 for what etcd rejects
    /// after parsing (bad env value, shadowed env var, inconsistent flags). Keel's own refusals
    /// (TLS, discovery, proxy, config file, ...) use 2: the invocation asks for something
    /// Keel cannot do.
    case failure(message: String, exitCode: Int32)
}

/// The versions `keel --version` reports; the server reports `etcdVersion` to clients too.
public enum KeelVersion {
    /// The etcd release whose API and flags Keel follows.
    public static let etcdVersion = "3.4.23"
    /// etcd's cluster version notation (major.minor).
    public static let etcdClusterVersion = "3.4.0"
    public static let keelVersion = "0.1.0"

    /// Same line layout as `etcd --version`, so scripts that grep it keep working.
    public static var versionText: String {
        """
        etcd Version: \(etcdVersion)
        Git SHA: keel-\(keelVersion)
        Go Version: none (Keel is written in Swift)
        Go OS/Arch: \(osArch)

        """
    }

    private static var osArch: String {
        #if os(Linux)
        let os = "linux"
        #else
        let os = "darwin"
        #endif
        #if arch(x86_64)
        return os + "/amd64"
        #elseif arch(arm64)
        return os + "/arm64"
        #else
        return os + "/unknown"
        #endif
    }
}
