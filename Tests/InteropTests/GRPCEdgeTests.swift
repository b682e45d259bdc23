import CProtobufC
import EtcdProto
import EtcdServer
import Foundation
import NIOCore
import NIOPosix
import RPC
import Testing

/// The real `keel` binary under hostile or heavy gRPC traffic: malformed protobuf, the request-size limits
/// (etcd's two: grpc's receive limit and "request is too large"), and h2load at full speed. After each, the
/// server must still answer.
@Suite struct GRPCEdgeTests {
    static func putRequest(key: String, valueBytes: Int) -> [UInt8] {
        RequestPacking.put(key: Array(key.utf8), value: [UInt8](repeating: 0x61, count: valueBytes))
    }

    static func withKeel(_ body: (ServerProcess, GRPCClientConnection) async throws -> Void) async throws {
        let scratch = try ScratchDirectory(label: "grpc-edge")
        let server = try ServerProcess.start(.keel, dataDir: scratch.child("data"))
        defer { _ = server.stop() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try await GRPCClientConnection.connect(host: "127.0.0.1", port: Int(server.ports.client), group: group)
        do {
            try await body(server, client)
        } catch {
            await client.close()
            try await group.shutdownGracefully()
            throw error
        }
        await client.close()
        try await group.shutdownGracefully()
    }

    static func expectAlive(_ client: GRPCClientConnection) async throws {
        let reply = try await client.unary("/etcdserverpb.KV/Put", putRequest(key: "alive", valueBytes: 1))
        #expect(reply.readableBytes > 0)
    }

    @Test func malformedProtobufGetsAnInternalStatusNotACrash() async throws {
        try await Self.withKeel { _, client in
            for garbage: [UInt8] in [[0xFF], [0x0A, 0x05, 0x61], [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0x07]] {
                for method in ["Put", "Range", "DeleteRange", "Txn", "Compact"] {
                    let response = try await client.unary("/etcdserverpb.KV/\(method)", request: ByteBuffer(bytes: garbage)).get()
                    #expect(response.status.code == .internal, "\(method) \(garbage): \(response.status)")
                    #expect(response.status.message.hasPrefix("grpc: error unmarshalling request"))
                }
            }
            try await Self.expectAlive(client)
        }
    }

    @Test func requestSizeLimitsMatchEtcd() async throws {
        try await Self.withKeel { _, client in
            // Default --max-request-bytes is 1.5 MiB: just under it is accepted.
            let fits = try await client.unary("/etcdserverpb.KV/Put", request: ByteBuffer(bytes: Self.putRequest(key: "k", valueBytes: 1_572_864 - 64))).get()
            #expect(fits.status == .ok)
            // Over it but within grpc's slack: etcd's own error.
            let tooLarge = try await client.unary("/etcdserverpb.KV/Put", request: ByteBuffer(bytes: Self.putRequest(key: "k", valueBytes: 1_572_864 + 1024))).get()
            #expect(tooLarge.status == GRPCStatus(.invalidArgument, "etcdserver: request is too large"))
            // Past the transport's limit (max-request-bytes + 512 KiB): grpc's refusal, nothing buffered.
            let huge = try await client.unary("/etcdserverpb.KV/Put", request: ByteBuffer(bytes: Self.putRequest(key: "k", valueBytes: 3 << 20))).get()
            #expect(huge.status.code == .resourceExhausted)
            #expect(huge.status.message.hasPrefix("grpc: received message larger than max ("))
            try await Self.expectAlive(client)
        }
    }

    @Test func h2loadDrivesPutAtFullSpeedWithoutErrors() async throws {
        let h2load = "/usr/bin/h2load"
        try #require(FileManager.default.isExecutableFile(atPath: h2load), "h2load (Debian nghttp2-client) is not installed")
        try await Self.withKeel { server, client in
            let scratch = try ScratchDirectory(label: "h2load")
            let body = Self.putRequest(key: "h2load", valueBytes: 64)
            var framed: [UInt8] = [0] + withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init)
            framed += body
            let bodyPath = scratch.child("put.grpc")
            try Data(framed).write(to: URL(fileURLWithPath: bodyPath))
            let result = try CommandRunner.run(h2load, [
                "-n", "20000", "-c", "8", "-m", "32", "-d", bodyPath,
                "-H", "content-type: application/grpc", "-H", "te: trailers",
                "http://\(server.endpoint)/etcdserverpb.KV/Put",
            ], timeoutSeconds: 60)
            #expect(result.exitCode == 0, "\(result)")
            #expect(result.stdout.contains("20000 succeeded, 0 failed, 0 errored, 0 timeout"), "\(result.stdout)")
            #expect(result.stdout.contains("status codes: 20000 2xx"), "\(result.stdout)")
            try await Self.expectAlive(client)
        }
    }
}
