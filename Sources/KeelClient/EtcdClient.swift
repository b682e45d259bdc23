import NIOCore
import NIOPosix
import RPC
import Transport

/// An etcd v3 client: async/await calls over HTTP/2 (h2c) to one endpoint at a time, failing over
/// to the next endpoint when the current one cannot be reached or answers Unavailable.
///
/// ```swift
/// let client = try EtcdClient(endpoints: ["127.0.0.1:2379", "127.0.0.1:22379"])
/// try await client.put("k", "v")
/// let value = try await client.get("k").kvs.first?.valueString
/// for try await response in client.watch("k") { ... }
/// try await client.close()
/// ```
public final class EtcdClient: Sendable {
    public struct Options: Sendable {
        /// grpc-timeout sent with every unary call; nil sends none.
        public var requestTimeout: TimeAmount? = .seconds(30)
        /// Pause between reconnect attempts of a watch or keep-alive stream when every endpoint failed.
        public var reconnectBackoff: TimeAmount = .milliseconds(200)
        /// TLS for every connection (etcdctl's --cacert/--cert/--key); nil: plaintext h2c.
        public var tls: TLSOptions?
        /// etcd's auth: each connection authenticates first and its calls carry the token; a token
        /// refused as invalid or stale is renewed and the call sent again, as clientv3 does, up to
        /// `EtcdClient.maxTokenRenewals` times per call.
        public var username: String?
        public var password: String?
        public init() {}
    }

    public struct TLSOptions: Sendable {
        /// The CA that signed the servers' certificates ("" trusts the system's roots).
        public var trustedCAFile: String
        /// Our certificate and key, for servers with --client-cert-auth ("" presents none).
        public var certFile: String
        public var keyFile: String
        /// Accept any server certificate (etcdctl's --insecure-skip-tls-verify).
        public var insecureSkipVerify: Bool

        public init(trustedCAFile: String = "", certFile: String = "", keyFile: String = "", insecureSkipVerify: Bool = false) {
            (self.trustedCAFile, self.certFile, self.keyFile, self.insecureSkipVerify) = (trustedCAFile, certFile, keyFile, insecureSkipVerify)
        }
    }

    let pool: ConnectionPool
    let options: Options
    private let ownedGroup: MultiThreadedEventLoopGroup?

    /// `endpoints` as `host:port`, `http://host:port` or `https://host:port` (TLS with `options.tls`, or the
    /// system's roots); `group` defaults to a group of one event loop owned (and shut down by `close()`) by
    /// the client.
    public init(endpoints: [String], options: Options = Options(), group: EventLoopGroup? = nil) throws {
        let parsed = try endpoints.map { text -> Endpoint in
            guard let endpoint = Endpoint(text) else { throw EtcdError.unavailable("bad endpoint '\(text)'") }
            return endpoint
        }
        guard !parsed.isEmpty else { throw EtcdError.unavailable("no endpoints given") }
        var tls: TLSClientSecurity?
        if options.tls != nil || parsed.contains(where: \.secure) {
            let o = options.tls ?? TLSOptions()
            let context = try TLSClientSecurity.makeContext(certFile: o.certFile, keyFile: o.keyFile, trustedCAFile: o.trustedCAFile,
                                                            skipVerify: o.insecureSkipVerify, cipherSuites: [])
            tls = TLSClientSecurity(context: context, onReject: { _ in })
        }
        let credentials = options.username.map { (user: $0, password: options.password ?? "") }
        let owned = group == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        self.ownedGroup = owned
        self.options = options
        self.pool = ConnectionPool(endpoints: parsed, group: group ?? owned!, tls: tls, credentials: credentials)
    }

    public var endpoints: [Endpoint] { pool.endpoints }
    /// The endpoint calls go to now (changes on failover).
    public var currentEndpoint: Endpoint { pool.currentEndpoint }
    var eventLoopGroup: EventLoopGroup { pool.group }

    /// Closes the connection; streams (watches, keep-alives) end. The client is unusable after.
    public func close() async throws {
        await pool.close()
        try await ownedGroup?.shutdownGracefully()
    }

    /// Whether a call may be sent again after its connection failed mid-flight: reads and other
    /// calls whose repetition changes nothing. Writes are retried only when they never left.
    enum Retry { case idempotent, once }

    /// How many times one call renews a refused token before the refusal stands.
    static let maxTokenRenewals = 5

    /// One unary call: the packed request to `path`, the packed response back. Fails over to the
    /// next endpoint on connection errors and on Unavailable; `.once` calls (writes) are resent
    /// only when the request cannot have reached a server (no connection, or no stream opened).
    func unary(_ path: String, _ request: [UInt8], retry: Retry) async throws -> [UInt8] {
        var lastError = EtcdError.unavailable("no attempt")
        var renewals = 0
        for _ in 0..<pool.endpoints.count {
            let connection = try await pool.connection()
            do {
                var response = try await connection.unary(path, request: ByteBuffer(bytes: request),
                                                          timeout: options.requestTimeout, metadata: pool.metadata).get()
                // Refused before it ran: safe to send again with a fresh token. A fresh token can itself idle
                // out before the call reaches the server (etcd's --auth-token-ttl is checked each second), so
                // clientv3 renews on every such answer within its retry budget; so do we, within ours.
                while renewals < Self.maxTokenRenewals, EtcdError.isStaleToken(response.status), pool.credentials != nil {
                    renewals += 1
                    try await pool.reauthenticate(connection)
                    response = try await connection.unary(path, request: ByteBuffer(bytes: request),
                                                          timeout: options.requestTimeout, metadata: pool.metadata).get()
                }
                guard response.status.code == .ok else { throw EtcdError(response.status) }
                guard response.messages.count == 1 else {
                    throw EtcdError.malformedResponse("\(path): \(response.messages.count) response messages")
                }
                return Array(buffer: response.messages[0])
            } catch let error as EtcdError where error.isUnavailable {
                pool.failed(connection)
                lastError = error
                if retry == .once { throw error }  // it may have been applied: never twice
            } catch let status as GRPCStatus where status.code == .unavailable {
                // "connection is closing": the stream never started, safe to resend anywhere.
                pool.failed(connection)
                lastError = EtcdError(status)
            } catch let error as EtcdError {
                throw error
            } catch let status as GRPCStatus {
                throw EtcdError(status)
            } catch {
                pool.failed(connection)
                lastError = .unavailable("\(error)")
            }
        }
        throw lastError
    }
}
