#if canImport(Glibc)
import Glibc
#endif
import CNGHTTP2
import NIOCore
import NIOPosix
import RPC
import Transport

/// TCP keepalive for peer connections, both ends: probes after 30 s of silence, every 10 s, 3 misses. A peer
/// that vanished without FIN or RST (host down, partition) is noticed in about a minute instead of hours, so
/// dead inbound connections do not pile up. (Senders also have the acknowledgment watchdog.)
enum PeerSocketOptions {
    static let keepalive: [(ChannelOptions.Types.SocketOption, SocketOptionValue)] = {
        var options: [(ChannelOptions.Types.SocketOption, SocketOptionValue)] = [(.init(level: .socket, name: .so_keepalive), 1)]
        #if os(Linux)
        options += [
            (.init(level: .tcp, name: .init(rawValue: CInt(TCP_KEEPIDLE))), 30),
            (.init(level: .tcp, name: .init(rawValue: CInt(TCP_KEEPINTVL))), 10),
            (.init(level: .tcp, name: .init(rawValue: CInt(TCP_KEEPCNT))), 3),
        ]
        #endif
        return options
    }()
}

/// One HTTP/2 connection this member dialed to a peer. Calls are opened and used on its event loop.
final class PeerConnection: Sendable {
    let channel: Channel
    let http2: HTTP2Connection
    let url: PeerURL
    var eventLoop: EventLoop { channel.eventLoop }

    private init(channel: Channel, http2: HTTP2Connection, url: PeerURL) {
        self.channel = channel
        self.http2 = http2
        self.url = url
    }

    /// Connects to `url` (the host name is resolved now, at each dial) and sets up HTTP/2 (h2c prior knowledge,
    /// or inside TLS for an https URL).
    static func dial(_ url: PeerURL, on eventLoop: EventLoop, timeout: TimeAmount,
                     tls: TLSClientSecurity?) -> EventLoopFuture<PeerConnection> {
        if url.isSecure && tls == nil {
            return eventLoop.makeFailedFuture(PeerTransportError.invalidConfig("\(url) needs peer TLS (--peer-cert-file or --peer-auto-tls)"))
        }
        let http2 = HTTP2ClientSetup.makeConnection(eventLoop: eventLoop)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if case .tcp(let host, _, true) = url, let tls { try tls.install(on: channel, host: host) }
                    try HTTP2ClientSetup.install(http2, on: channel)
                }
            }
        let connected: EventLoopFuture<Channel>
        switch url {
        case .tcp(let host, let port, _):
            var tcp = bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1)
            for (option, value) in PeerSocketOptions.keepalive { tcp = tcp.channelOption(option, value: value) }
            connected = tcp.connect(host: host, port: port)
        case .unix(let path):
            connected = bootstrap.connect(unixDomainSocketPath: path)
        }
        return connected.map { PeerConnection(channel: $0, http2: http2, url: url) }
    }

    /// Dials `urls` in turn starting at `start`; the first that connects wins.
    static func dialAny(_ urls: [PeerURL], startingAt start: Int, on eventLoop: EventLoop,
                        timeout: TimeAmount, tls: TLSClientSecurity?) -> EventLoopFuture<(PeerConnection, Int)> {
        guard !urls.isEmpty else { return eventLoop.makeFailedFuture(PeerTransportError.invalidConfig("peer has no URLs")) }
        @Sendable func attempt(_ tried: Int, lastError: Error?) -> EventLoopFuture<(PeerConnection, Int)> {
            guard tried < urls.count else { return eventLoop.makeFailedFuture(lastError!) }
            let index = (start + tried) % urls.count
            return dial(urls[index], on: eventLoop, timeout: timeout, tls: tls)
                .map { ($0, index) }
                .flatMapError { attempt(tried + 1, lastError: $0) }
        }
        return attempt(0, lastError: nil)
    }

    /// Opens a gRPC call; nil when the connection is closing. Event loop only.
    func openCall(headers: HTTP2Headers, maxMessageBytes: Int) -> PeerCall? {
        eventLoop.preconditionInEventLoop()
        let call = PeerCall(maxMessageBytes: maxMessageBytes)
        guard let stream = HTTP2ClientSetup.start(http2, headers: headers, delegate: call) else { return nil }
        call.stream = stream
        return call
    }

    /// Closes the connection on the next loop tick. Never synchronously: this is often called from inside a
    /// stream callback, i.e. inside nghttp2, and closing the channel there would free the nghttp2 session
    /// under its own feet.
    func close() {
        let channel = self.channel
        channel.eventLoop.execute { channel.close(promise: nil) }
    }
}

/// The client side of one call on a `PeerConnection`: writes framed bytes, deframes the response messages
/// and reports the final status once. Confined to the connection's event loop.
final class PeerCall: HTTP2StreamDelegate {
    fileprivate(set) var stream: HTTP2Stream?
    private var reader: GRPCFrameReader
    private var status: GRPCStatus?
    private var sendClosed = false
    var onMessage: ((ByteBuffer) -> Void)?
    var onClose: ((GRPCStatus) -> Void)?

    init(maxMessageBytes: Int) {
        reader = GRPCFrameReader(maxMessageBytes: maxMessageBytes)
    }

    var isOpen: Bool { stream != nil }

    /// Queues already-framed bytes.
    func write(_ bytes: ByteBuffer) {
        stream?.write(bytes)
    }

    /// Queues already-framed bytes by copying them straight into the stream's buffer.
    func write(bytes: [UInt8]) {
        stream?.write(reservingCapacity: bytes.count) { $0.writeBytes(bytes) }
    }

    func closeSend() {
        sendClosed = true
        stream?.finish()
    }

    func cancel() {
        stream?.reset()
    }

    func stream(_ stream: HTTP2Stream, receivedHeaders headers: HTTP2Headers, endStream: Bool) {
        if let code = headers["grpc-status"] {
            let message = PercentEncoding.decode(headers["grpc-message"] ?? "")
            status = GRPCStatus(GRPCStatus.Code(rawValue: Int(code) ?? 2) ?? .unknown, message)
        } else if let http = headers.status, http != "200" {
            status = GRPCStatus(.unavailable, "unexpected HTTP status code \(http)")
        }
        // The peer ended the call while we may still be sending: we are done too.
        if endStream, !sendClosed { stream.reset(errorCode: NGHTTP2_NO_ERROR.rawValue) }
    }

    func stream(_ stream: HTTP2Stream, receivedData data: UnsafeRawBufferPointer, endStream: Bool) {
        guard status == nil else { return }
        reader.append(data)
        do {
            while let message = try reader.next() {
                onMessage?(message)
                if self.stream == nil || status != nil { return }
            }
        } catch {
            status = error
            stream.reset()
            return
        }
        if endStream, !sendClosed { stream.reset(errorCode: NGHTTP2_NO_ERROR.rawValue) }
    }

    func streamClosed(_ stream: HTTP2Stream, errorCode: UInt32) {
        self.stream = nil
        let final = status ?? GRPCStatus(.unavailable, errorCode == 0 ? "peer closed the call without a status"
                                                                     : "stream reset (HTTP/2 error code \(errorCode))")
        let onClose = self.onClose
        self.onClose = nil
        self.onMessage = nil
        onClose?(final)
    }
}
