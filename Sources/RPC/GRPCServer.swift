import NIOCore
import Transport

/// How a method consumes its requests.
public enum GRPCHandler: Sendable {
    /// Exactly one request message; the handler answers through the call: one message (unary) or many
    /// (server streaming), then `finish`.
    case unary(@Sendable (ServerCall, ByteBuffer) -> Void)
    /// A stream of request messages (client streaming, bidirectional): the handler installs an observer.
    case streaming(@Sendable (ServerCall) -> Void)
}

/// Limits for every call.
public struct GRPCServerLimits: Sendable {
    /// Largest request message accepted by the transport (etcd: --max-request-bytes + 512 KiB of grpc slack).
    public var maxReceiveMessageBytes: Int

    public init(maxReceiveMessageBytes: Int = 1_572_864 + 512 * 1024) {
        self.maxReceiveMessageBytes = maxReceiveMessageBytes
    }
}

/// Routes `/package.Service/Method` to handlers; unknown paths get UNIMPLEMENTED as grpc-go words it.
public struct GRPCServer: HTTP2StreamRouter {
    /// A method's handler and its metrics, found with one lookup per call.
    private struct Route {
        var handler: GRPCHandler
        var metrics: GRPCMethodMetrics?
    }
    private var routes: [String: Route] = [:]
    public var limits: GRPCServerLimits

    public init(limits: GRPCServerLimits = GRPCServerLimits()) {
        self.limits = limits
    }

    /// The handler registered for `path` (the in-process gateway calls the same handlers as gRPC).
    public func handler(for path: String) -> GRPCHandler? { routes[path]?.handler }

    /// Gives registered methods their metrics (call after the last `register`); nil leaves a method uncounted.
    public mutating func instrument(_ make: (_ path: String, _ handler: GRPCHandler) -> GRPCMethodMetrics?) {
        for (path, route) in routes { routes[path]!.metrics = make(path, route.handler) }
    }

    /// The metrics of `path` (the in-process gateway's calls count too, as etcd's gateway's go through gRPC).
    public func metrics(for path: String) -> GRPCMethodMetrics? { routes[path]?.metrics }

    public mutating func register(_ path: String, _ handler: GRPCHandler) {
        precondition(routes[path] == nil, "method registered twice: \(path)")
        routes[path] = Route(handler: handler, metrics: nil)
    }

    public func delegate(for stream: HTTP2Stream, headers: HTTP2Headers) -> HTTP2StreamDelegate {
        let path = headers.path ?? ""
        let route = routes[path]
        let call = ServerCall(path: path, headers: headers, stream: stream, metrics: route?.metrics)
        let delegate = GRPCServerStream(call: call, stream: stream, handler: route?.handler, maxMessageBytes: limits.maxReceiveMessageBytes)
        if headers.method != "POST" {
            call.finishOnLoop(GRPCStatus(.unimplemented, "grpc: method must be POST"))
        } else if route == nil {
            call.finishOnLoop(GRPCStatus(.unimplemented, unknownMethodMessage(path)))
        } else if let timeout = headers["grpc-timeout"] {
            if let amount = GRPCTimeout.parse(timeout) {
                call.armDeadline(amount)
            } else {
                call.finishOnLoop(GRPCStatus(.internal, "transport: malformed grpc-timeout: \(timeout)"))
            }
        }
        if !call.isFinished, case .streaming(let start)? = route?.handler { start(call) }
        return delegate
    }

    /// grpc-go: "unknown service X" when the service is unknown, "unknown method M for service X" otherwise.
    func unknownMethodMessage(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard path.hasPrefix("/"), parts.count == 2 else { return "malformed method name: \"\(path)\"" }
        let servicePrefix = "/\(parts[0])/"
        if routes.keys.contains(where: { $0.hasPrefix(servicePrefix) }) {
            return "unknown method \(parts[1]) for service \(parts[0])"
        }
        return "unknown service \(parts[0])"
    }
}

/// The HTTP/2 side of one server call: deframes requests and hands them to the handler.
final class GRPCServerStream: HTTP2StreamDelegate {
    let call: ServerCall
    @exclusivity(unchecked) private var deframer: MessageDeframer
    @exclusivity(unchecked) private var delivery: RequestDelivery

    init(call: ServerCall, stream: HTTP2Stream, handler: GRPCHandler?, maxMessageBytes: Int) {
        self.call = call
        self.delivery = RequestDelivery(handler: handler)
        self.deframer = MessageDeframer(maxMessageBytes: maxMessageBytes)
        stream.context = call
    }

    func stream(_ stream: HTTP2Stream, receivedHeaders headers: HTTP2Headers, endStream: Bool) {
        if endStream { end() }  // request trailers
    }

    func stream(_ stream: HTTP2Stream, receivedData data: UnsafeRawBufferPointer, endStream: Bool) {
        guard !call.isFinished, !call.isCancelled else { return }
        deframer.append(data)
        do {
            while let message = try deframer.next() {
                guard delivery.handler != nil else { return }
                delivery.receive(message, on: call)
                if call.isFinished || call.isCancelled { return }
            }
        } catch {
            call.finishOnLoop(error)
            return
        }
        if endStream { end() }
    }

    private func end() {
        guard !call.isFinished, !call.isCancelled else { return }
        if deframer.hasPartialMessage {
            call.finishOnLoop(GRPCStatus(.internal, "grpc: client sent a truncated message"))
            return
        }
        delivery.end(on: call)
    }

    func streamClosed(_ stream: HTTP2Stream, errorCode: UInt32) {
        if !call.isFinished || errorCode != 0 { call.cancel() }
        stream.context = nil
    }
}
