import KeelClient

/// What one load run does: built by the subcommands from their options.
struct LoadSpec: Sendable {
    enum Kind: String, Sendable { case put, range, txnPut = "txn-put", watch }

    var kind: Kind
    var endpoints: [Endpoint]
    var conns = 1
    var clients = 1
    /// Requests to complete (successes and errors).
    var total = 10_000
    var threads = 1
    var seed: UInt64 = 1
    var keySize = 8
    var valueSize = 8
    /// Keys are drawn from [0, keySpace).
    var keySpace = 1
    var sequentialKeys = false
    /// Requests per second over all clients; 0 is unlimited (closed loop).
    var rate = 0.0
    /// range: a fixed key (and range end) instead of keys from the key space.
    var rangeKey: [UInt8]?
    var rangeEnd: [UInt8] = []
    var serializable = false
    /// txn-put: puts per transaction.
    var txnOps = 1
    /// watch fan-out: streams, watchers per stream, connections for them, wait for the last event.
    var streams = 10
    var watchersPerStream = 100
    var watchConns = 1
    var watchTimeout = 60
    var progress = false
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

/// A run that could not be carried out as asked (watchers not created in time, ...).
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
