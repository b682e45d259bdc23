import CProtobufC
import EtcdProto
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RPC
import Testing
@testable import Transport
@testable import Gateway

/// The gateway without sockets: JSON in, a fake gRPC handler behind it, JSON out.
@Suite struct GatewayResponderTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    private func request(_ path: String, _ body: String, method: String = "POST",
                         closed: HTTPCloseSignal? = nil) -> HTTPRequest {
        HTTPRequest(method: method, uri: path, headers: [], body: ByteBuffer(string: body), closed: closed)
    }

    private func text(_ r: HTTPResponse) -> String { String(buffer: r.body) }

    /// A Range handler that answers with a response whose count is the request's limit.
    private func server() -> GRPCServer {
        var grpc = GRPCServer()
        grpc.register("/etcdserverpb.KV/Range", .unary { call, request in
            let limit = request.withUnsafeReadableBytes { raw -> Int64 in
                let m = protobuf_c_message_unpack(d.rangeRequest, nil, raw.count,
                                                  raw.baseAddress!.assumingMemoryBound(to: UInt8.self))!
                defer { protobuf_c_message_free_unpacked(m, nil) }
                return UnsafeRawPointer(m).assumingMemoryBound(to: Etcdserverpb__RangeRequest.self).pointee.limit
            }
            if limit < 0 { return call.finish(GRPCStatus(.invalidArgument, "etcdserver: <bad> & \"limit\"")) }
            var response = Etcdserverpb__RangeResponse()
            etcdserverpb__range_response__init(&response)
            response.count = limit
            let size = withUnsafePointer(to: &response) { p in
                protobuf_c_message_get_packed_size(UnsafeRawPointer(p).assumingMemoryBound(to: ProtobufCMessage.self))
            }
            call.respond(size: size) { out in
                _ = withUnsafePointer(to: &response) { p in
                    protobuf_c_message_pack(UnsafeRawPointer(p).assumingMemoryBound(to: ProtobufCMessage.self),
                                            out.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        })
        return grpc
    }

    @Test func unaryCallsTheRegisteredHandler() throws {
        let gateway = GatewayResponder(grpc: server(), maxBodyBytes: 1 << 20)
        let loop = Self.group.next()
        let ok = try gateway.respond(to: request("/v3/kv/range", #"{"key":"YQ==","limit":"7"}"#), on: loop).wait()
        #expect(ok.status == 200 && text(ok) == #"{"count":"7"}"#, "\(text(ok))")
        let beta = try gateway.respond(to: request("/v3beta/kv/range", #"{"limit":3}"#), on: loop).wait()
        #expect(beta.status == 200 && text(beta) == #"{"count":"3"}"#)
        // A handler's error: grpc-gateway's body, Go's escaping, the code's HTTP status.
        let bad = try gateway.respond(to: request("/v3/kv/range", #"{"limit":-1}"#), on: loop).wait()
        #expect(bad.status == 400)
        #expect(text(bad) == #"{"error":"etcdserver: \u003cbad\u003e \u0026 \"limit\"","message":"etcdserver: \u003cbad\u003e \u0026 \"limit\"","code":3}"#,
                "\(text(bad))")
    }

    @Test func routesWithoutAServiceAnswerTheMuxs404() throws {
        let gateway = GatewayResponder(grpc: server(), maxBodyBytes: 1 << 20)
        let loop = Self.group.next()
        for path in ["/v3/kv/put", "/v3/lease/grant", "/v3/nothing", "/v3/kv/range/x"] {
            let r = try gateway.respond(to: request(path, "{}"), on: loop).wait()
            #expect(r.status == 404 && text(r) == "Not Found\n", "\(path): \(r.status) \(text(r))")
        }
        let get = try gateway.respond(to: request("/v3/kv/range", "", method: "GET"), on: loop).wait()
        #expect(get.status == 405 && text(get) == "Method Not Allowed\n")
    }

    @Test func malformedBodiesAre400WithCode3() throws {
        let gateway = GatewayResponder(grpc: server(), maxBodyBytes: 64)
        let loop = Self.group.next()
        for body in [#"{"key":"#, #"{"key":"!!"}"#, #"{"key":5}"#, "[1]", #"{"limit":1.5}"#,
                     "{" + String(repeating: " ", count: 80) + "}"] {
            let r = try gateway.respond(to: request("/v3/kv/range", body), on: loop).wait()
            #expect(r.status == 400 && text(r).hasSuffix(#","code":3}"#), "\(body): \(r.status) \(text(r))")
        }
    }

    @Test func errorStatusesFollowGrpcGateway() {
        #expect(GatewayErrors.httpStatus(.failedPrecondition) == 412)
        #expect(GatewayErrors.httpStatus(.resourceExhausted) == 429)
        #expect(GatewayErrors.httpStatus(.unavailable) == 503)
        #expect(GatewayErrors.httpStatus(.cancelled) == 408)
        let chunk = String(buffer: GatewayErrors.streamChunk(GRPCStatus(.notFound, "x")))
        #expect(chunk == #"{"error":{"grpc_code":5,"http_code":404,"message":"x","http_status":"Not Found"}}"#)
    }

    @Test func streamingBodiesSplitIntoRequests() throws {
        let body = Array(#" {"create_request":{"key":"YQ=="}} {"progress_request":{}}{"cancel_request":{"watch_id":"3"}}  "#.utf8)
        let parsed = body.withUnsafeBytes { ProtoJSON.wireSequence(json: $0, descriptor: d.watchRequest) }
        #expect(parsed.messages.count == 3 && parsed.failure == nil)
        let broken = Array(#"{"create_request":{"key":"YQ=="}}{"create_request":{"key":5}}{}"#.utf8)
        let partial = broken.withUnsafeBytes { ProtoJSON.wireSequence(json: $0, descriptor: d.watchRequest) }
        #expect(partial.messages.count == 1)
        #expect(partial.failure?.offset ?? 0 > 33, "\(String(describing: partial.failure))")
        let empty = Array("  \n".utf8).withUnsafeBytes { ProtoJSON.wireSequence(json: $0, descriptor: d.watchRequest) }
        #expect(empty.messages.isEmpty && empty.failure == nil)
    }

    /// A watch handler that answers one message per request, or fails the call on a request with a cancel.
    private func watchServer() -> GRPCServer {
        final class Observer: GRPCRequestObserver {
            func call(_ call: ServerCall, received message: ByteBuffer) {
                if message.readableBytes > 0, message.getInteger(at: message.readerIndex, as: UInt8.self) == (2 << 3 | 2) {
                    return call.finish(GRPCStatus(.failedPrecondition, "no such watch"))
                }
                call.send(ByteBuffer(bytes: [0x18, 0x01]))  // created: true
            }
            func callReceivedEnd(_ call: ServerCall) {}
            func callCancelled(_ call: ServerCall) {}
        }
        var grpc = GRPCServer()
        grpc.register("/etcdserverpb.Watch/Watch", .streaming { call in call.setObserver(Observer()) })
        return grpc
    }

    /// Collects what the transport would send of a streamed body.
    private func drain(_ response: HTTPResponse, on loop: EventLoop) throws -> String {
        let stream = try #require(response.stream)
        let collected = NIOLockedValueBox<String>("")
        try loop.submit {
            stream.attach(HTTPResponseStream.Sink(write: { chunk in collected.withLockedValue { $0 += String(buffer: chunk) } },
                                                  finish: {}, pending: { 0 }))
        }.wait()
        return collected.withLockedValue { $0 }
    }

    @Test func streamsWriteResultLinesAndEndWithAnErrorObject() throws {
        let gateway = GatewayResponder(grpc: watchServer(), maxBodyBytes: 1 << 20)
        let loop = Self.group.next()
        // Two creates: two result lines; the stream stays open (nothing ended it).
        let open = try gateway.respond(to: request("/v3/watch", #"{"create_request":{}}{"create_request":{}}"#), on: loop).wait()
        #expect(open.status == 200)
        #expect(try drain(open, on: loop) == "{\"result\":{\"created\":true}}\n{\"result\":{\"created\":true}}\n")
        // The call fails after one message: the status stays 200 (already sent), the error object follows.
        let failing = try gateway.respond(to: request("/v3/watch", #"{"create_request":{}}{"cancel_request":{}}"#), on: loop).wait()
        #expect(failing.status == 200)
        #expect(try drain(failing, on: loop) == "{\"result\":{\"created\":true}}\n"
            + #"{"error":{"grpc_code":9,"http_code":412,"message":"no such watch","http_status":"Precondition Failed"}}"#)
        // Failing first: the head carries the code's status.
        let first = try gateway.respond(to: request("/v3/watch", #"{"cancel_request":{}}"#), on: loop).wait()
        #expect(first.status == 412)
        // The first request not decoding: grpc-gateway's Unknown (500), no stream.
        let undecodable = try gateway.respond(to: request("/v3/watch", #"{"create_request":{"key":5}}"#), on: loop).wait()
        #expect(undecodable.status == 500 && undecodable.stream == nil && text(undecodable).hasSuffix(#""code":2}"#))
    }

    @Test func aClientLeavingCancelsTheCall() throws {
        final class Probe: GRPCRequestObserver, @unchecked Sendable {
            let cancelled: EventLoopPromise<Void>
            init(_ p: EventLoopPromise<Void>) { cancelled = p }
            func call(_ call: ServerCall, received message: ByteBuffer) {}
            func callReceivedEnd(_ call: ServerCall) {}
            func callCancelled(_ call: ServerCall) { cancelled.succeed(()) }
        }
        let loop = Self.group.next()
        let cancelled = loop.makePromise(of: Void.self)
        var grpc = GRPCServer()
        grpc.register("/etcdserverpb.Watch/Watch", .streaming { call in call.setObserver(Probe(cancelled)) })
        let gateway = GatewayResponder(grpc: grpc, maxBodyBytes: 1 << 20)
        let signal = HTTPCloseSignal(eventLoop: loop)
        let pending = gateway.respond(to: request("/v3/watch", #"{"create_request":{}}"#, closed: signal), on: loop)
        try loop.submit { signal.fire() }.wait()
        try cancelled.futureResult.wait()
        #expect(try pending.wait().status == 200)  // the response completes (nobody reads it)
    }
}
