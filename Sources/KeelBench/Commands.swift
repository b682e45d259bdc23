import ArgumentParser
import KeelClient

/// `keel-bench`: etcd's `benchmark` tool, on KeelClient, for Keel and etcd alike.
@main
struct KeelBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keel-bench",
        abstract: "A low-level benchmark tool for etcd v3 servers (Keel and etcd alike), shaped like etcd's `benchmark`.",
        subcommands: [PutCommand.self, RangeCommand.self, TxnPutCommand.self, WatchCommand.self,
                      WatchLatencyCommand.self, LeaseKeepaliveCommand.self])
}

/// etcd's global flags (`--endpoints`, `--conns`, `--clients`, `--total`) plus ours.
struct CommonOptions: ParsableArguments {
    @Option(name: [.customLong("endpoints"), .customLong("endpoint")],
            help: "Comma-separated host:port list; connection i goes to endpoint i % count.")
    var endpoints = "127.0.0.1:2379"

    @Option(help: "Total number of HTTP/2 connections.")
    var conns = 1

    @Option(help: "Total number of concurrent requests in flight, spread over the connections.")
    var clients = 1

    @Option(help: "Total number of requests.")
    var total = 10_000

    @Option(help: "Event-loop threads of the generator (1 keeps it lean beside the server).")
    var threads = 1

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Flag(help: "Print one JSON line instead of the text report.")
    var json = false

    @Option(name: .customLong("tls-cacert"), help: "Connect over TLS (ALPN h2), verifying the server against this CA.")
    var tlsCACert = ""
    @Option(name: .customLong("tls-cert"), help: "Client certificate to present over TLS.")
    var tlsCert = ""
    @Option(name: .customLong("tls-key"), help: "Key of the client certificate.")
    var tlsKey = ""

    func parsedEndpoints() throws -> [Endpoint] {
        let list = try endpoints.split(separator: ",").map { text -> Endpoint in
            guard let endpoint = Endpoint(String(text)) else { throw ValidationError("bad endpoint '\(text)'") }
            return endpoint
        }
        guard !list.isEmpty else { throw ValidationError("no endpoints") }
        return list
    }

    func validate() throws {
        _ = try parsedEndpoints()
        guard (1...LoadSpec.maxConns).contains(conns) else { throw ValidationError("--conns must be in 1...\(LoadSpec.maxConns)") }
        guard (1...LoadSpec.maxClients).contains(clients) else { throw ValidationError("--clients must be in 1...\(LoadSpec.maxClients)") }
        guard total >= 1 else { throw ValidationError("--total must be at least 1") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be in 1...64") }
    }

    func spec(_ kind: LoadSpec.Kind) throws -> LoadSpec {
        var spec = LoadSpec(kind: kind, endpoints: try parsedEndpoints())
        spec.conns = conns
        spec.clients = clients
        spec.total = total
        spec.threads = threads
        spec.seed = seed
        spec.progress = !json && ProgressBar.wanted
        spec.tlsCA = tlsCACert
        spec.tlsCert = tlsCert
        spec.tlsKey = tlsKey
        return spec
    }

    func emit(_ report: BenchReport) throws {
        print(json ? report.json : report.text)
        // Every request failing means the endpoint is wrong or down: say so with the exit code.
        if report.errors > 0 && report.successes == 0 { throw ExitCode(1) }
    }
}

/// Key and value shape shared by the write benchmarks.
struct KeyOptions: ParsableArguments {
    @Option(help: "Key size of requests.")
    var keySize = 8

    @Option(help: "Value size of requests.")
    var valSize = 8

    @Option(name: [.customLong("key-space-size"), .customLong("key-space")], help: "Maximum possible keys.")
    var keySpaceSize = 1

    @Flag(help: "Use sequential keys.")
    var sequentialKeys = false

    @Option(help: "Maximum requests per second (0 is no limit).")
    var rate = 0.0

    func validate() throws {
        guard keySpaceSize >= 1 else { throw ValidationError("--key-space-size must be at least 1") }
        guard (0...LoadSpec.maxValueSize).contains(valSize) else { throw ValidationError("--val-size must be in 0...\(LoadSpec.maxValueSize)") }
        guard keySize <= LoadSpec.maxKeySize else { throw ValidationError("--key-size must be at most \(LoadSpec.maxKeySize)") }
        guard keySize >= max(2, KeyFormat.digitsNeeded(keySpace: keySpaceSize)) else {
            throw ValidationError("--key-size \(keySize) cannot hold \(keySpaceSize) distinct keys (needs at least "
                                  + "\(max(2, KeyFormat.digitsNeeded(keySpace: keySpaceSize))) bytes)")
        }
        guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
    }

    func apply(to spec: inout LoadSpec) {
        spec.keySize = keySize
        spec.valueSize = valSize
        spec.keySpace = keySpaceSize
        spec.sequentialKeys = sequentialKeys
        spec.rate = rate
    }
}

struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Benchmark put.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var keys: KeyOptions

    func run() async throws {
        var spec = try common.spec(.put)
        keys.apply(to: &spec)
        try common.emit(try await BenchRun.run(spec))
    }
}

struct RangeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "range", abstract: "Benchmark range.",
        discussion: "With a key (and an optional end), every request ranges it, as etcd's `benchmark range key [end]`; "
            + "without, each request reads one key drawn from the key space, as the put benchmark writes them.")
    @OptionGroup var common: CommonOptions

    @Argument(help: "The key to range (default: keys from the key space).")
    var key: String?
    @Argument(help: "The range end.")
    var end: String?

    @Option(help: "Linearizable (l) or serializable (s).")
    var consistency = "l"
    @Option(help: "Key size, when keys come from the key space.")
    var keySize = 8
    @Option(name: [.customLong("key-space-size"), .customLong("key-space")], help: "Keys are drawn from this many.")
    var keySpaceSize = 1
    @Flag(help: "Use sequential keys.")
    var sequentialKeys = false
    @Option(help: "Maximum requests per second (0 is no limit).")
    var rate = 0.0

    func validate() throws {
        guard consistency == "l" || consistency == "s" else { throw ValidationError("--consistency must be l or s") }
        guard key != nil || keySize >= max(2, KeyFormat.digitsNeeded(keySpace: max(1, keySpaceSize))) else {
            throw ValidationError("--key-size \(keySize) cannot hold \(keySpaceSize) distinct keys")
        }
        guard keySpaceSize >= 1, rate >= 0 else { throw ValidationError("--key-space-size >= 1 and --rate >= 0") }
    }

    func run() async throws {
        var spec = try common.spec(.range)
        spec.serializable = consistency == "s"
        spec.keySize = keySize
        spec.keySpace = keySpaceSize
        spec.sequentialKeys = sequentialKeys
        spec.rate = rate
        if let key {
            spec.rangeKey = Array(key.utf8)
            spec.keySize = key.utf8.count
        }
        if let end { spec.rangeEnd = Array(end.utf8) }
        try common.emit(try await BenchRun.run(spec))
    }
}

struct TxnPutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "txn-put", abstract: "Benchmark txn-put.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var keys: KeyOptions
    @Option(help: "Number of puts per txn.")
    var txnOps = 1

    func validate() throws {
        guard (1...128).contains(txnOps) else { throw ValidationError("--txn-ops must be in 1...128") }
        guard keys.keySpaceSize >= txnOps else { throw ValidationError("--key-space-size must be at least --txn-ops") }
    }

    func run() async throws {
        var spec = try common.spec(.txnPut)
        keys.apply(to: &spec)
        spec.txnOps = txnOps
        try common.emit(try await BenchRun.run(spec))
    }
}

/// Watch fan-out: puts on the key space while watchers on its whole range count events.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Benchmark watch: puts while watchers on the key space's range count the events.",
        discussion: "The put workload (--put-total, --clients, --conns, --key-size, --val-size, --key-space-size) runs "
            + "while --streams × --watch-per-stream watchers on [key 0, last key] receive every event; reports put "
            + "latency and events per second.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var keys: KeyOptions
    @Option(help: "Number of watch streams.")
    var streams = 10
    @Option(name: [.customLong("watch-per-stream"), .customLong("watchers-per-stream")], help: "Watchers per stream.")
    var watchPerStream = 100
    @Option(help: "HTTP/2 connections the watch streams are spread over.")
    var watchConns = 1
    @Option(name: [.customLong("put-total"), .customLong("puts")], help: "Number of puts (default: --total).")
    var putTotal: Int?
    @Option(help: "Seconds to wait for the last event after the puts.")
    var watchTimeout = 60

    func validate() throws {
        guard streams >= 1, watchPerStream >= 1, watchConns >= 1, watchTimeout >= 1 else {
            throw ValidationError("--streams, --watch-per-stream, --watch-conns and --watch-timeout must be at least 1")
        }
    }

    func run() async throws {
        var spec = try common.spec(.watch)
        keys.apply(to: &spec)
        if let putTotal { spec.total = putTotal }
        spec.streams = streams
        spec.watchersPerStream = watchPerStream
        spec.watchConns = watchConns
        spec.watchTimeout = watchTimeout
        try common.emit(try await BenchRun.run(spec))
    }
}
