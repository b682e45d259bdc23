/// What `keel-bench` was asked to do, parsed from its command line.
struct BenchOptions: Sendable {
    enum Operation: String, Sendable { case put, range, watch }

    var operation: Operation
    /// `host:port` targets; connection i goes to endpoint i % count.
    var endpoints: [(host: String, port: Int)] = [("127.0.0.1", 2379)]
    /// HTTP/2 connections.
    var conns = 1
    /// Requests outstanding at once, spread round-robin over the connections.
    var clients = 1
    /// Requests to complete (successes and errors).
    var total = 10_000
    var keySize = 8
    var valueSize = 8
    /// Keys are drawn from [0, keySpace).
    var keySpace = 1
    var sequentialKeys = false
    /// Range only: a fixed key instead of keys from the key space.
    var fixedKey: [UInt8]? = nil
    /// Range only: "l" linearizable (etcd's default) or "s" serializable.
    var serializable = false
    /// Event-loop threads of the load generator; 1 keeps it lean when it shares cores with the server.
    var threads = 1
    var seed: UInt64 = 1
    var json = false
    /// Watch only: Watch streams, watchers created on each (all on the key space's range), the
    /// connections the streams are spread over, and how long to wait for the last event.
    var streams = 10
    var watchersPerStream = 100
    var watchConns = 1
    var watchTimeout = 60
    /// TLS: the CA that signed the server's certificate, and our client certificate and key (for servers
    /// with --client-cert-auth). Empty `tlsCA`: plaintext (h2c).
    var tlsCA = ""
    var tlsCert = ""
    var tlsKey = ""

    /// Hard limits so a typo cannot ask for absurd amounts of memory or sockets.
    static let maxConns = 1024
    static let maxClients = 65_536
    static let maxValueSize = 16 << 20
    static let maxKeySize = 4096
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
}

extension BenchOptions {
    static let usage = """
    usage: keel-bench put|range|watch [flags]
      --endpoint host:port[,host:port...]  target(s) (default 127.0.0.1:2379)
      --conns N          HTTP/2 connections (default 1)
      --clients N        concurrent outstanding requests over all connections (default 1)
      --total N          requests to send (default 10000)
      --key-size N       key bytes (default 8)
      --val-size N       value bytes, put only (default 8)
      --key-space N      keys are chosen in [0, N) (default 1)
      --sequential-keys  keys in order instead of uniformly random
      --key KEY          range only: always range this key
      --consistency l|s  range only: linearizable (default) or serializable
      --threads N        event-loop threads of the generator (default 1)
      --seed N           random seed (default 1)
      --json             print one JSON line instead of the text report
      --tls-cacert FILE  connect over TLS (ALPN h2), verifying the server against this CA
      --tls-cert FILE --tls-key FILE   client certificate and key to present over TLS
    watch: the put workload (--puts/--total, --key-space, --val-size, ...) while watchers on the
    key space's range count the events they receive:
      --streams N                Watch streams (default 10)
      --watchers-per-stream N    watchers created on each stream (default 100)
      --watch-conns N            HTTP/2 connections the streams are spread over (default 1)
      --watch-timeout S          seconds to wait for the last event after the puts (default 60)
    """

    static func parse(_ arguments: [String]) throws(UsageError) -> BenchOptions {
        guard let first = arguments.first, let operation = Operation(rawValue: first) else {
            throw UsageError(description: usage)
        }
        var options = BenchOptions(operation: operation)
        var index = 1
        func value(_ flag: String) throws(UsageError) -> String {
            index += 1
            guard index < arguments.count else { throw UsageError(description: "\(flag) needs a value") }
            return arguments[index]
        }
        func number(_ flag: String, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
            let text = try value(flag)
            guard let n = Int(text), range.contains(n) else {
                throw UsageError(description: "\(flag) must be an integer in \(range.lowerBound)...\(range.upperBound), got \(text)")
            }
            return n
        }
        while index < arguments.count {
            let flag = arguments[index]
            // Accept both --flag value and --flag=value.
            if let eq = flag.firstIndex(of: "="), flag.hasPrefix("--") {
                var split = arguments
                split.replaceSubrange(index...index, with: [String(flag[..<eq]), String(flag[flag.index(after: eq)...])])
                return try parse(split)
            }
            switch flag {
            case "--endpoint", "--endpoints": options.endpoints = try parseEndpoints(try value(flag))
            case "--conns": options.conns = try number(flag, 1...maxConns)
            case "--clients": options.clients = try number(flag, 1...maxClients)
            case "--total", "--puts": options.total = try number(flag, 1...Int(Int32.max))
            case "--key-size": options.keySize = try number(flag, 1...maxKeySize)
            case "--val-size": options.valueSize = try number(flag, 0...maxValueSize)
            case "--key-space": options.keySpace = try number(flag, 1...Int(Int32.max))
            case "--sequential-keys": options.sequentialKeys = true
            case "--key": options.fixedKey = Array(try value(flag).utf8)
            case "--consistency":
                switch try value(flag) {
                case "l": options.serializable = false
                case "s": options.serializable = true
                case let other: throw UsageError(description: "--consistency must be l or s, got \(other)")
                }
            case "--threads": options.threads = try number(flag, 1...64)
            case "--seed": options.seed = UInt64(try number(flag, 0...Int.max))
            case "--json": options.json = true
            case "--tls-cacert": options.tlsCA = try value(flag)
            case "--tls-cert": options.tlsCert = try value(flag)
            case "--tls-key": options.tlsKey = try value(flag)
            case "--streams": options.streams = try number(flag, 1...maxConns * 100)
            case "--watchers-per-stream": options.watchersPerStream = try number(flag, 1...100_000)
            case "--watch-conns": options.watchConns = try number(flag, 1...maxConns)
            case "--watch-timeout": options.watchTimeout = try number(flag, 1...3600)
            case "-h", "--help": throw UsageError(description: usage)
            default: throw UsageError(description: "unknown flag \(flag)\n\(usage)")
            }
            index += 1
        }
        guard options.clients >= options.conns else {
            throw UsageError(description: "--clients (\(options.clients)) must be at least --conns (\(options.conns))")
        }
        guard KeyFormat.digitsNeeded(keySpace: options.keySpace) <= options.keySize else {
            throw UsageError(description: "--key-size \(options.keySize) is too small for --key-space \(options.keySpace)")
        }
        return options
    }

    static func parseEndpoints(_ text: String) throws(UsageError) -> [(host: String, port: Int)] {
        var result: [(host: String, port: Int)] = []
        for part in text.split(separator: ",") {
            var item = Substring(part)
            for scheme in ["http://", "https://"] where item.hasPrefix(scheme) { item = item.dropFirst(scheme.count) }
            guard let colon = item.lastIndex(of: ":"), let port = Int(item[item.index(after: colon)...]),
                  (1...65535).contains(port), colon > item.startIndex else {
                throw UsageError(description: "bad endpoint \(part): want host:port")
            }
            result.append((String(item[..<colon]), port))
        }
        guard !result.isEmpty else { throw UsageError(description: "no endpoint given") }
        return result
    }
}
