import NIOCore
import NIOPosix
import RPC
import Transport

/// A gRPC server with test methods on a free port, and a raw-socket helper for malformed input.
final class TestServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let transport: TransportServer
    let port: Int
    /// Calls parked by /test.Echo/Hold, and the cancellations the server saw for them.
    let held: AsyncStream<ServerCall>
    let cancellations: AsyncStream<Void>

    static func start(maxMessageBytes: Int = 1 << 20) async throws -> TestServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let (held, heldSink) = AsyncStream<ServerCall>.makeStream()
        let (cancellations, cancelSink) = AsyncStream<Void>.makeStream()
        var grpc = GRPCServer(limits: GRPCServerLimits(maxReceiveMessageBytes: maxMessageBytes))
        grpc.register("/test.Echo/Unary", .unary { call, request in call.respond(size: request.readableBytes) { out in
            request.withUnsafeReadableBytes { out.copyMemory(from: $0) }
        } })
        grpc.register("/test.Echo/ServerStream", .unary { call, request in
            let count = Int(request.getInteger(at: request.readerIndex, as: UInt32.self) ?? 0)
            for i in 0..<count { call.send(ByteBuffer(integer: UInt32(i))) }
            call.finish(.ok)
        })
        grpc.register("/test.Echo/ClientStream", .streaming { call in call.setObserver(Counter()) })
        grpc.register("/test.Echo/Bidi", .streaming { call in call.setObserver(Echoer()) })
        grpc.register("/test.Echo/Hold", .unary { call, _ in
            call.onCancel { cancelSink.yield() }
            heldSink.yield(call)
        })
        grpc.register("/test.Echo/Fail", .unary { call, _ in
            call.finish(GRPCStatus(.invalidArgument, "etcdserver: 100% bad\nvalue é"))
        })
        let transport = TransportServer(group: group, configuration: TransportConfiguration(grpc: grpc, http: PlainResponder()))
        let port = try await transport.bind(host: "127.0.0.1", port: 0)
        return TestServer(group: group, transport: transport, port: port, held: held, cancellations: cancellations)
    }

    private init(group: MultiThreadedEventLoopGroup, transport: TransportServer, port: Int,
                 held: AsyncStream<ServerCall>, cancellations: AsyncStream<Void>) {
        self.group = group
        self.transport = transport
        self.port = port
        self.held = held
        self.cancellations = cancellations
    }

    func nextHeldCall() async -> ServerCall {
        var iterator = held.makeAsyncIterator()
        return await iterator.next()!
    }

    func nextCancellation() async {
        var iterator = cancellations.makeAsyncIterator()
        _ = await iterator.next()
    }

    func connect() async throws -> GRPCClientConnection {
        try await GRPCClientConnection.connect(host: "127.0.0.1", port: port, group: group)
    }

    func stop() async {
        await transport.shutdownGracefully(gracePeriod: .seconds(2))
        try? await group.shutdownGracefully()
    }
}

/// Client streaming: counts messages, answers with the count when the client half-closes.
final class Counter: GRPCRequestObserver {
    var count: UInt32 = 0
    func call(_ call: ServerCall, received message: ByteBuffer) { count += 1 }
    func callReceivedEnd(_ call: ServerCall) {
        call.send(ByteBuffer(integer: count))
        call.finish(.ok)
    }
    func callCancelled(_ call: ServerCall) {}
}

/// Bidi: echoes every message, ends when the client does.
final class Echoer: GRPCRequestObserver {
    func call(_ call: ServerCall, received message: ByteBuffer) { call.send(message) }
    func callReceivedEnd(_ call: ServerCall) { call.finish(.ok) }
    func callCancelled(_ call: ServerCall) {}
}

struct PlainResponder: HTTPResponder {
    func respond(to request: HTTPRequest, on eventLoop: EventLoop) -> EventLoopFuture<HTTPResponse> {
        eventLoop.makeSucceededFuture(.json(200, #"{"path":"\#(request.path)","bytes":\#(request.body.readableBytes)}"#))
    }
}
