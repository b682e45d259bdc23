// etcd's JSON gateway on the client port: POST /v3/… with a JSON body -> protobuf -> the gRPC handler
// registered for the method (in process, no socket) -> JSON. A path whose service this server does not
// register answers 404, and starts working when the service is registered.
import CProtobufC
import NIOCore
import RPC
import Transport

public struct GatewayResponder: Sendable {
    private let grpc: GRPCServer
    private let limits: ProtoJSONLimits

    public init(grpc: GRPCServer, maxBodyBytes: Int) {
        self.grpc = grpc
        self.limits = ProtoJSONLimits(maxBodyBytes: maxBodyBytes)
    }

    /// Paths the gateway answers (etcd rewrites /v3beta/ to /v3/ before its mux).
    public static func handles(_ path: Substring) -> Bool {
        path.hasPrefix("/v3/") || path.hasPrefix("/v3beta/")
    }

    /// The gRPC method behind an HTTP path (nil when etcd's gateway has no such route).
    public static func method(for path: Substring) -> String? {
        GatewayRoutes.table[normalized(path)]?.method
    }

    static func normalized(_ path: Substring) -> String {
        path.hasPrefix("/v3beta/") ? "/v3/" + path.dropFirst("/v3beta/".count) : String(path)
    }

    public func respond(to request: HTTPRequest, on eventLoop: EventLoop) -> EventLoopFuture<HTTPResponse> {
        guard let route = GatewayRoutes.table[Self.normalized(request.path)] else {
            return eventLoop.makeSucceededFuture(GatewayErrors.notFound)
        }
        guard request.method == "POST" else { return eventLoop.makeSucceededFuture(GatewayErrors.methodNotAllowed) }
        guard grpc.handler(for: route.method) != nil else { return eventLoop.makeSucceededFuture(GatewayErrors.notFound) }
        if eventLoop.inEventLoop { return start(route, request, eventLoop) }
        return eventLoop.flatSubmit { self.start(route, request, eventLoop) }
    }

    /// etcd's gateway hands the message to its gRPC server, whose receive limit answers ResourceExhausted
    /// (HTTP 429) in grpc-go's words; ours is the same limit.
    private func oversize(_ wire: [UInt8]) -> GRPCStatus? {
        let limit = grpc.limits.maxReceiveMessageBytes
        guard wire.count > limit else { return nil }
        return GRPCStatus(.resourceExhausted, "grpc: received message larger than max (\(wire.count) vs. \(limit))")
    }

    private func start(_ route: Route, _ request: HTTPRequest, _ eventLoop: EventLoop) -> EventLoopFuture<HTTPResponse> {
        let messages: [[UInt8]]
        switch route.kind {
        case .unary, .serverStream:
            // grpc-gateway: a body that does not decode is InvalidArgument.
            let decoded = request.body.withUnsafeReadableBytes { raw in
                Result { () throws(ProtoJSONError) in try ProtoJSON.wireBytes(json: raw, descriptor: route.request, limits: limits) }
            }
            switch decoded {
            case .success(let wire):
                if let tooLarge = oversize(wire) { return eventLoop.makeSucceededFuture(GatewayErrors.response(tooLarge)) }
                messages = [wire]
            case .failure(let error):
                return eventLoop.makeSucceededFuture(GatewayErrors.response(GRPCStatus(.invalidArgument, error.description)))
            }
        case .bidiStream:
            // grpc-gateway: the first request failing to decode fails the call (as Unknown); a later one
            // ends the request side, and what was sent before stays answered.
            let sequence = request.body.withUnsafeReadableBytes { raw in
                ProtoJSON.wireSequence(json: raw, descriptor: route.request, limits: limits)
            }
            if sequence.messages.isEmpty, let failure = sequence.failure {
                return eventLoop.makeSucceededFuture(GatewayErrors.response(GRPCStatus(.unknown, failure.description)))
            }
            if let tooLarge = sequence.messages.lazy.compactMap(oversize).first {
                return eventLoop.makeSucceededFuture(GatewayErrors.response(tooLarge))
            }
            messages = sequence.messages
        }
        let promise = eventLoop.makePromise(of: HTTPResponse.self)
        let receiver: GatewayCallReceiver = route.kind == .unary
            ? UnaryReceiver(promise: promise, response: route.response)
            : StreamReceiver(promise: promise, response: route.response, eventLoop: eventLoop)
        guard let call = InProcessCall(server: grpc, path: route.method, headers: request.headers, eventLoop: eventLoop,
                                       receiver: receiver) else {
            promise.succeed(GatewayErrors.notFound)
            return promise.futureResult
        }
        // The client going away cancels the call (a watch stops, a keepalive stream ends), as grpc-gateway
        // cancels the gRPC context with the HTTP request's. A call that already finished is left alone, as
        // gRPC leaves it when its stream closes normally (handlers may act on a late cancel: an election
        // campaign withdraws its key). The closure holds both until the exchange ends, when it fires at the latest.
        request.closed?.whenClosed {
            receiver.clientGone()
            if !call.call.isFinished { call.cancel() }
        }
        for message in messages where !call.call.isFinished {
            call.send(ByteBuffer(bytes: message))
        }
        call.end()
        return promise.futureResult
    }
}
