// The fuzz targets: each takes arbitrary bytes and drives one parser of untrusted input. They must
// return for any input; a trap, a sanitizer report or a failed round trip is a bug.
import CProtobufC
import EtcdProto
import Gateway
import NIOCore
import NIOEmbedded
import Raft
import RPC
import Transport
import WAL

enum FuzzTargets {
    static let all: [(name: String, run: @Sendable ([UInt8]) -> Void)] = [
        ("wal-segment", WALFuzzing.scanSegment),
        ("snapshot", WALFuzzing.parseSnapshot),
        ("proto-request", protoRequest),
        ("gateway-json", gatewayJSON),
        ("grpc-http2", grpcServerInput),
        ("raft-message", raftMessage),
    ]

    static func named(_ name: String) -> (@Sendable ([UInt8]) -> Void)? { all.first { $0.name == name }?.run }

    /// Every request message Keel decodes from clients and peers.
    static var requestDescriptors: [UnsafePointer<ProtobufCMessageDescriptor>] { RequestDescriptors.all }

    /// First byte picks a request type; the rest is protobuf wire data. A message that decodes must
    /// survive our JSON writer and read back (gateway round trip) to the same wire bytes.
    static func protoRequest(_ input: [UInt8]) {
        guard let selector = input.first else { return }
        let descriptor = requestDescriptors[Int(selector) % requestDescriptors.count]
        let wire = Array(input.dropFirst())
        let message = wire.withUnsafeBufferPointer { protobuf_c_message_unpack(descriptor, nil, $0.count, $0.baseAddress) }
        guard let message else { return }
        defer { protobuf_c_message_free_unpacked(message, nil) }
        checkJSONRoundTrip(message, descriptor)
    }

    /// First byte picks a request type; the rest is a JSON body as the gateway receives it.
    static func gatewayJSON(_ input: [UInt8]) {
        guard let selector = input.first else { return }
        let descriptor = requestDescriptors[Int(selector) % requestDescriptors.count]
        let json = Array(input.dropFirst())
        _ = try? ProtoJSON.wireBytes(json: json, descriptor: descriptor)
        guard let message = try? ProtoJSON.decode(json: json, into: descriptor) else { return }
        checkJSONRoundTrip(message.pointer, descriptor)
    }

    /// The JSON we write for a message must read back, and after one pass (which, as Go's encoding/json,
    /// turns invalid UTF-8 in strings into U+FFFD) writing and reading must be stable.
    static func checkJSONRoundTrip(_ message: UnsafePointer<ProtobufCMessage>, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) {
        let name = String(cString: descriptor.pointee.name)
        var json = ProtoJSON.encode(message: message)
        for pass in 0..<2 {
            guard let back = try? ProtoJSON.decode(json: json, into: descriptor) else {
                fatalError("JSON written for a \(name) does not read back: \(String(decoding: json, as: UTF8.self))")
            }
            let again = ProtoJSON.encode(message: back.pointer)
            precondition(pass == 0 || again == json,
                         "JSON round trip changed a \(name): \(String(decoding: json, as: UTF8.self)) vs \(String(decoding: again, as: UTF8.self))")
            json = again
        }
    }

    /// Raft messages as peers send them: decode, and a decoded message re-encodes to what decodes equal.
    static func raftMessage(_ input: [UInt8]) {
        guard let m = try? Message.decode(input) else { return }
        let again = try? Message.decode(m.encoded())
        precondition(again == m, "raft message round trip changed it")
    }

    /// Bytes from a client connection into the server pipeline (protocol sniffing, HTTP/1.1 or h2c via
    /// nghttp2, gRPC framing and routing) on an embedded channel; one method echoes its request.
    static func grpcServerInput(_ input: [UInt8]) {
        var grpc = GRPCServer(limits: GRPCServerLimits(maxReceiveMessageBytes: 1 << 16))
        grpc.register("/etcdserverpb.KV/Range", .unary { call, request in
            call.send(request)
            call.finish(.ok)
        })
        var configuration = TransportConfiguration(grpc: grpc, http: NotFoundResponder())
        configuration.maxHTTPBodyBytes = 1 << 16
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        do { try HTTP2ServerSetup.install(on: channel, configuration: configuration) } catch { return }
        // In two pieces, so frames split across reads are covered too.
        let cut = input.isEmpty ? 0 : Int(input[0]) % (input.count + 1)
        for piece in [input[..<cut], input[cut...]] where !piece.isEmpty {
            do { try channel.writeInbound(ByteBuffer(bytes: piece)) } catch { return }
            channel.embeddedEventLoop.run()
            while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
            if !channel.isActive { return }
        }
    }

    struct NotFoundResponder: HTTPResponder {
        func respond(to request: HTTPRequest, on eventLoop: EventLoop) -> EventLoopFuture<HTTPResponse> {
            eventLoop.makeSucceededFuture(.json(404, #"{"error":"Not Found","code":5}"#))
        }
    }
}
