import NIOCore
import RPC
import Testing

@Suite struct GRPCCallTests {
    @Test func unaryEchoesBytes() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let reply = try await client.unary("/test.Echo/Unary", Array("hello".utf8))
        #expect(reply.getString(at: reply.readerIndex, length: reply.readableBytes) == "hello")
        // An empty message is a valid protobuf (all defaults).
        let empty = try await client.unary("/test.Echo/Unary", [])
        #expect(empty.readableBytes == 0)
        await client.close()
        await server.stop()
    }

    @Test func serverStreamingDeliversEveryMessageInOrder() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let response = try await client.unary("/test.Echo/ServerStream", request: ByteBuffer(integer: UInt32(500))).get()
        #expect(response.status == .ok)
        #expect(response.messages.map { $0.getInteger(at: $0.readerIndex, as: UInt32.self)! } == (0..<500).map(UInt32.init))
        await client.close()
        await server.stop()
    }

    @Test func clientStreamingCountsMessages() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let call = try await client.makeCall("/test.Echo/ClientStream").get()
        for i in 0..<300 { call.send(ByteBuffer(integer: UInt64(i))) }
        call.closeSend()
        let response = try await call.response.get()
        #expect(response.status == .ok)
        #expect(response.messages.first?.getInteger(at: 0, as: UInt32.self) == 300)
        await client.close()
        await server.stop()
    }

    @Test func bidiEchoesEachMessage() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let call = try await client.makeCall("/test.Echo/Bidi").get()
        var sent: [UInt32] = []
        for i in 0..<200 {
            sent.append(UInt32(i))
            call.send(ByteBuffer(integer: UInt32(i)))
        }
        call.closeSend()
        let response = try await call.response.get()
        #expect(response.status == .ok)
        #expect(response.messages.map { $0.getInteger(at: $0.readerIndex, as: UInt32.self)! } == sent)
        await client.close()
        await server.stop()
    }

    @Test func hundredsOfConcurrentStreamsOnOneConnection() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let futures = (0..<800).map { i in
            client.unary("/test.Echo/Unary", request: ByteBuffer(integer: UInt32(i)))
        }
        for (i, future) in futures.enumerated() {
            let response = try await future.get()
            #expect(response.status == .ok)
            #expect(response.messages.first?.getInteger(at: 0, as: UInt32.self) == UInt32(i))
        }
        await client.close()
        await server.stop()
    }

    @Test func unknownServiceAndMethodAreUnimplemented() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let unknownService = try await client.unary("/nope.Svc/Do", request: ByteBuffer()).get()
        #expect(unknownService.status == GRPCStatus(.unimplemented, "unknown service nope.Svc"))
        let unknownMethod = try await client.unary("/test.Echo/Nope", request: ByteBuffer()).get()
        #expect(unknownMethod.status == GRPCStatus(.unimplemented, "unknown method Nope for service test.Echo"))
        await client.close()
        await server.stop()
    }

    @Test func statusMessageIsPercentEncodedAndDecoded() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let response = try await client.unary("/test.Echo/Fail", request: ByteBuffer()).get()
        #expect(response.status == GRPCStatus(.invalidArgument, "etcdserver: 100% bad\nvalue é"))
        #expect(PercentEncoding.encode("a%b\n") == "a%25b%0A")
        await client.close()
        await server.stop()
    }

    @Test func deadlineExceededWhenTheHandlerNeverAnswers() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let response = try await client.unary("/test.Echo/Hold", request: ByteBuffer(), timeout: .milliseconds(50)).get()
        #expect(response.status.code == .deadlineExceeded)
        // The connection is still good afterwards.
        let ok = try await client.unary("/test.Echo/Unary", Array("x".utf8))
        #expect(ok.readableBytes == 1)
        #expect(GRPCTimeout.parse("4998000u") == .microseconds(4_998_000))
        #expect(GRPCTimeout.parse("123456789S") == nil)
        #expect(GRPCTimeout.parse("10x") == nil)
        await client.close()
        await server.stop()
    }

    @Test func oversizedMessageIsRejectedWithoutBufferingIt() async throws {
        let server = try await TestServer.start(maxMessageBytes: 1024)
        let client = try await server.connect()
        let fits = try await client.unary("/test.Echo/Unary", [UInt8](repeating: 7, count: 1024))
        #expect(fits.readableBytes == 1024)
        let tooBig = try await client.unary("/test.Echo/Unary", request: ByteBuffer(repeating: 7, count: 1025)).get()
        #expect(tooBig.status == GRPCStatus(.resourceExhausted, "grpc: received message larger than max (1025 vs. 1024)"))
        await client.close()
        await server.stop()
    }

    @Test func truncatedAndCompressedMessagesGetCleanErrors() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        // Prefix promises 10 bytes, only 3 arrive before END_STREAM.
        let truncated = try await client.makeCall("/test.Echo/Unary").get()
        truncated.sendRaw(ByteBuffer(bytes: [0, 0, 0, 0, 10, 1, 2, 3]))
        truncated.closeSend()
        #expect(try await truncated.response.get().status.code == .internal)
        // Compressed flag without grpc-encoding.
        let compressed = try await client.makeCall("/test.Echo/Unary").get()
        compressed.sendRaw(ByteBuffer(bytes: [1, 0, 0, 0, 1, 9]))
        compressed.closeSend()
        #expect(try await compressed.response.get().status.code == .unimplemented)
        // No message at all on a unary method.
        let none = try await client.makeCall("/test.Echo/Unary").get()
        none.closeSend()
        #expect(try await none.response.get().status.code == .internal)
        await client.close()
        await server.stop()
    }

    @Test func clientCancellationReachesTheServer() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let call = try await client.makeCall("/test.Echo/Hold").get()
        call.send(ByteBuffer())
        call.closeSend()
        let held = await server.nextHeldCall()
        call.cancel()
        let response = try await call.response.get()
        #expect(response.status.code == .unavailable)
        // The server sees the reset: the call is cancelled and a late answer is dropped, not crashed on.
        await server.nextCancellation()
        #expect(try await held.eventLoop.submit { held.isCancelled }.get())
        held.respond(size: 0) { _ in }
        await client.close()
        await server.stop()
    }
}
