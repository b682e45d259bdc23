import NIOCore
import RPC
import Testing

/// Hostile input and shutdown: the server must answer cleanly, stay up, and drain on GOAWAY.
@Suite struct RobustnessTests {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// A seeded generator so a failing input replays (the seed is in the failure message).
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// An HTTP/2 frame header + payload.
    static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags,
                UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    @Test func randomBytesAndTruncatedFramesNeverTakeTheServerDown() async throws {
        let server = try await TestServer.start()
        let seed: UInt64 = 0x6B65_656C
        var rng = SplitMix64(state: seed)
        for round in 0..<120 {
            let socket = try RawSocket(port: server.port)
            var bytes: [UInt8] = []
            switch round % 4 {
            case 0:  // pure noise
                bytes = (0..<Int.random(in: 1...512, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1:  // valid preface, then noise
                bytes = Self.preface + (0..<Int.random(in: 1...512, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 2:  // preface + SETTINGS + a HEADERS frame cut short
                let headers = Self.frame(type: 1, flags: 4, stream: 1, payload: (0..<40).map { _ in UInt8.random(in: 0...255, using: &rng) })
                bytes = Self.preface + Self.frame(type: 4, flags: 0, stream: 0, payload: [])
                    + headers.prefix(Int.random(in: 1..<headers.count, using: &rng))
            default:  // frames with random types/flags/lengths
                bytes = Self.preface
                for _ in 0..<4 {
                    let payload = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    bytes += Self.frame(type: UInt8.random(in: 0...10, using: &rng), flags: UInt8.random(in: 0...255, using: &rng),
                                        stream: UInt32.random(in: 0...7, using: &rng), payload: payload)
                }
            }
            socket.write(bytes)
            socket.shutdownWrite()
            _ = socket.readAll(limit: 64 << 10)
            socket.closeSocket()
        }
        // Still serving, and nothing leaked: every hostile connection is closed.
        let client = try await server.connect()
        let reply = try await client.unary("/test.Echo/Unary", Array("alive (seed \(seed))".utf8))
        #expect(reply.readableBytes > 0)
        await client.close()
        #expect(server.transport.openConnectionCount <= 1)
        await server.stop()
    }

    @Test func badClientMagicGetsGoAwayAndClose() async throws {
        let server = try await TestServer.start()
        let socket = try RawSocket(port: server.port)
        socket.write(Array("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".utf8))
        let answer = socket.readAll()  // returns because the server closes
        socket.closeSocket()
        // Not an HTTP/2 preface: the HTTP/1.1 parser rejects it with a 400 and closes.
        #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 400"))
        await server.stop()
    }

    @Test func http1AndPlainHTTP2ShareThePort() async throws {
        let server = try await TestServer.start()
        let socket = try RawSocket(port: server.port)
        socket.write(Array("POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".utf8))
        let text = String(decoding: socket.readAll(), as: UTF8.self)
        socket.closeSocket()
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(text.hasSuffix(#"{"path":"/v3/kv/range","bytes":2}"#))
        await server.stop()
    }

    @Test func gracefulShutdownSendsGoAwayAndDrainsInFlightCalls() async throws {
        let server = try await TestServer.start()
        let client = try await server.connect()
        let inFlight = client.unary("/test.Echo/Hold", request: ByteBuffer())
        let held = await server.nextHeldCall()
        async let stopped: Void = server.transport.shutdownGracefully(gracePeriod: .seconds(10))
        // The in-flight call still completes after GOAWAY ...
        try await held.eventLoop.submit {}.get()
        held.respond(size: 1) { $0[0] = 42 }
        let response = try await inFlight.get()
        #expect(response.status == .ok)
        #expect(response.messages.first?.getInteger(at: 0, as: UInt8.self) == 42)
        await stopped
        // ... and then the connection is closed by the server.
        try await client.channel.closeFuture.get()
        #expect(server.transport.openConnectionCount == 0)
        try await server.group.shutdownGracefully()
    }
}
