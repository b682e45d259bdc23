import CNGHTTP2
import NIOCore

/// Where a connection's output goes: the channel handler that owns it.
protocol HTTP2ConnectionOutput: AnyObject {
    /// Something was queued outside the read path; flush it soon.
    func connectionWantsFlush()
}

/// One nghttp2 session (server or client) and its streams. nghttp2 does framing, HPACK and flow control; this
/// type feeds it bytes (`receive`), drains its output (`produceOutput`) and maps its callbacks to streams.
/// Confined to one event loop (hence `@unchecked Sendable`); nghttp2 is never entered re-entrantly.
/// Its hot stored properties (and those of HTTP2Stream, HTTP2ChannelHandler, GRPCServerStream and ServerCall,
/// confined to the same loop) are `@exclusivity(unchecked)`: no access to them overlaps another, and the
/// runtime's dynamic access bookkeeping on every frame callback was ~10% of an event loop's time under load.
public final class HTTP2Connection: @unchecked Sendable {
    public enum Role: Sendable { case server, client }

    public let role: Role
    public let eventLoop: EventLoop
    /// The CN of the client certificate TLS verified on this connection (nil: none, or plaintext).
    public internal(set) var peerCommonName: String?
    let limits: HTTP2Limits
    let router: HTTP2StreamRouter?
    /// Set by the channel handler when added, cleared in `tearDown` (which its removal always
    /// runs): strong in between so a flush request needs no weak load.
    @exclusivity(unchecked) var output: HTTP2ConnectionOutput?

    @exclusivity(unchecked) private var session: OpaquePointer?
    @exclusivity(unchecked) var streams = StreamTable<HTTP2Stream>()
    /// The header block being received and its byte size (for the header-list limit). HTTP/2 sends
    /// a block's frames back to back, so there is at most one; it is filled in place (a block
    /// copied out of a dictionary and back for each header copied its field array every time).
    @exclusivity(unchecked) private var headerBlock: HeaderBlock?
    /// Header names and values this connection received before, reused instead of allocated.
    @exclusivity(unchecked) private var headerStrings = HeaderStringCache()
    /// True while inside nghttp2 (mem_recv / mem_send): nghttp2 must not be entered again.
    @exclusivity(unchecked) private(set) var inSession = false
    /// GOAWAY sent: no new streams; close once the last one ends.
    @exclusivity(unchecked) public private(set) var isDraining = false
    /// The peer sent GOAWAY (client side: don't start new requests).
    @exclusivity(unchecked) public private(set) var receivedGoAway = false
    @exclusivity(unchecked) private(set) var isTornDown = false

    init(role: Role, eventLoop: EventLoop, limits: HTTP2Limits, router: HTTP2StreamRouter?) {
        self.role = role
        self.eventLoop = eventLoop
        self.limits = limits
        self.router = router
        var callbacks: OpaquePointer?
        precondition(nghttp2_session_callbacks_new(&callbacks) == 0, "nghttp2: out of memory")
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        let me = Unmanaged.passUnretained(self).toOpaque()
        // Go's HTTP/2 server (etcd's) accepts any :authority; nghttp2's messaging checks reset a stream
        // whose :authority is not a bare host[:port]. clientv3 3.4 sends "http://host:port" as the
        // authority of the calls it makes to one endpoint (etcdctl endpoint status/hashkv, defrag,
        // move-leader, `--cluster`), so the server side skips those checks; requests are still routed
        // by :path, and one without it is an unknown method.
        var options: OpaquePointer?
        precondition(nghttp2_option_new(&options) == 0, "nghttp2: out of memory")
        defer { nghttp2_option_del(options) }
        if role == .server { nghttp2_option_set_no_http_messaging(options, 1) }
        // nghttp2 otherwise keeps a closed stream's state (~240 bytes) for the RFC 7540 priority
        // tree until the connection ends: a long-lived client connection grew by that much per
        // request (240 MB after a million Puts on 16 connections). Nothing here uses priorities.
        nghttp2_option_set_no_closed_streams(options, 1)
        let rc: Int32
        switch role {
        case .server: rc = nghttp2_session_server_new2(&session, callbacks, me, options)
        case .client: rc = nghttp2_session_client_new2(&session, callbacks, me, options)
        }
        precondition(rc == 0 && session != nil, "nghttp2: cannot create session")
        var settings = [
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                value: limits.maxConcurrentStreams),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                value: limits.initialWindowSize),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                value: UInt32(limits.maxHeaderListSize)),
        ]
        // The client preface (magic) is written by nghttp2 itself on the first mem_send.
        _ = nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        _ = nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, limits.connectionWindowSize)
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: Input

    /// Feeds received bytes to nghttp2. Returns false on a fatal protocol error: the caller flushes (nghttp2
    /// queued a GOAWAY) and closes.
    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let session, !isTornDown else { return false }
        precondition(!inSession, "nghttp2 re-entered")
        inSession = true
        defer { leaveSession() }
        let n = nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        return n >= 0
    }

    // MARK: Output

    /// Drains nghttp2's pending output into one buffer (bounded by `maxBytesPerFlush`); nil when idle.
    /// Returns `fatal` when nghttp2 failed and the connection must close.
    func produceOutput(allocator: ByteBufferAllocator) -> (ByteBuffer?, fatal: Bool) {
        guard let session, !isTornDown else { return (nil, false) }
        precondition(!inSession, "nghttp2 re-entered")
        inSession = true
        defer { leaveSession() }
        var buffer: ByteBuffer?
        while true {
            var chunk: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &chunk)
            if n < 0 { return (buffer, true) }
            if n == 0 { break }
            if buffer == nil { buffer = allocator.buffer(capacity: max(n, 16 << 10)) }
            buffer!.writeBytes(UnsafeRawBufferPointer(start: chunk, count: n))
            if buffer!.readableBytes >= limits.maxBytesPerFlush { break }
        }
        return (buffer, false)
    }

    /// nghttp2 has nothing more to read or write: the connection can close (after GOAWAY, or a fatal error).
    var isFinished: Bool {
        guard let session else { return true }
        return nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
    }

    var hasPendingOutput: Bool {
        guard let session else { return false }
        return nghttp2_session_want_write(session) != 0
    }

    private func wantFlush() {
        if !inSession { output?.connectionWantsFlush() }
    }

    // MARK: Stream operations (event loop only)

    func submitResponse(_ stream: HTTP2Stream, headers: HTTP2Headers, endStream: Bool) {
        guard let session, !stream.isClosed, !stream.providerSubmitted else { return }
        let rc: Int32 = withNameValueArray(headers) { nva, count in
            if endStream {
                stream.outboundEnded = true
                return nghttp2_submit_response(session, stream.id, nva, count, nil)
            }
            var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: readStreamData)
            return nghttp2_submit_response(session, stream.id, nva, count, &provider)
        }
        if rc == 0 { stream.providerSubmitted = !endStream } else { reset(stream, errorCode: NGHTTP2_INTERNAL_ERROR.rawValue) }
        wantFlush()
    }

    func enqueue(_ stream: HTTP2Stream, bytes: ByteBuffer) {
        guard !stream.isClosed, !stream.outboundEnded else { return }
        if stream.outbound.readableBytes == 0 {
            // Nothing waiting (a unary call's one message, or the last one already taken): the stream
            // takes the caller's buffer as it is. Copying it into a buffer of its own was an
            // allocation and a copy of every request and response.
            stream.outbound = bytes
        } else {
            var bytes = bytes
            stream.outbound.writeBuffer(&bytes)
        }
        resume(stream)
    }

    func resume(_ stream: HTTP2Stream) {
        if stream.deferred, let session {
            stream.deferred = false
            _ = nghttp2_session_resume_data(session, stream.id)
        }
        wantFlush()
    }

    func finish(_ stream: HTTP2Stream, trailers: HTTP2Headers?) {
        guard !stream.isClosed, !stream.outboundEnded else { return }
        stream.outboundEnded = true
        stream.trailers = trailers
        resume(stream)
    }

    func reset(_ stream: HTTP2Stream, errorCode: UInt32) {
        guard let session, !stream.isClosed else { return }
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, errorCode)
        wantFlush()
    }

    /// Client side: opens a stream. With `endStream` the request has no body; otherwise write/finish follow.
    func startRequest(headers: HTTP2Headers, endStream: Bool, delegate: HTTP2StreamDelegate) -> HTTP2Stream? {
        precondition(role == .client)
        guard let session, !isTornDown, !receivedGoAway else { return nil }
        let id: Int32 = withNameValueArray(headers) { nva, count in
            if endStream { return nghttp2_submit_request(session, nil, nva, count, nil, nil) }
            var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: readStreamData)
            return nghttp2_submit_request(session, nil, nva, count, &provider, nil)
        }
        guard id > 0 else { return nil }
        let stream = HTTP2Stream(id: id, connection: self)
        stream.delegate = delegate
        stream.providerSubmitted = !endStream
        stream.outboundEnded = endStream
        streams[id] = stream
        wantFlush()
        return stream
    }

    /// Graceful shutdown: GOAWAY with the last stream we processed; streams in flight finish.
    func beginGracefulShutdown() {
        guard let session, !isDraining, !isTornDown else { return }
        isDraining = true
        if role == .server {
            _ = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                                      nghttp2_session_get_last_proc_stream_id(session),
                                      NGHTTP2_NO_ERROR.rawValue, nil, 0)
        } else {
            _ = nghttp2_session_terminate_session(session, NGHTTP2_NO_ERROR.rawValue)
        }
        wantFlush()
    }

    /// The channel is gone: every open stream learns it, then nghttp2 is released.
    func tearDown() {
        guard !isTornDown else { return }
        isTornDown = true
        output = nil
        let open = streams.values
        streams.removeAll()
        headerBlock = nil
        for stream in open {
            stream.markClosed()
            stream.delegate?.streamClosed(stream, errorCode: NGHTTP2_CANCEL.rawValue)
            stream.delegate = nil
        }
        // Torn down from inside an nghttp2 callback (a delegate closed the channel synchronously): nghttp2
        // is still running on this session, so it is freed when the call into nghttp2 returns.
        if !inSession, let session {
            nghttp2_session_del(session)
            self.session = nil
        }
    }

    private func leaveSession() {
        inSession = false
        if isTornDown, let session {
            nghttp2_session_del(session)
            self.session = nil
        }
    }

    // MARK: nghttp2 callbacks (called inside mem_recv / mem_send)

    fileprivate func beginHeaders(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let id = frame.pointee.hd.stream_id
        if role == .server, frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST, streams[id] == nil {
            streams[id] = HTTP2Stream(id: id, connection: self)
        }
        headerBlock = HeaderBlock(id: id)
        return 0
    }

    fileprivate func header(_ frame: UnsafePointer<nghttp2_frame>, name: UnsafeRawBufferPointer,
                            value: UnsafeRawBufferPointer) -> Int32 {
        let id = frame.pointee.hd.stream_id
        guard headerBlock?.id == id else { return 0 }
        headerBlock!.size += name.count + value.count + 32
        if headerBlock!.size > limits.maxHeaderListSize {
            headerBlock = nil
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue  // resets just this stream
        }
        let n = headerStrings.string(name)
        let v = headerStrings.string(value)
        headerBlock!.headers.append(n, v)
        return 0
    }

    /// The finished header block of stream `id`, if it is the one being received.
    private func takeHeaderBlock(_ id: Int32) -> HTTP2Headers? {
        guard let block = headerBlock, block.id == id else { return nil }
        headerBlock = nil
        return block.headers
    }

    fileprivate func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let type = UInt32(frame.pointee.hd.type)
        let id = frame.pointee.hd.stream_id
        let endStream = frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch type {
        case NGHTTP2_HEADERS.rawValue:
            guard let stream = streams[id], let headers = takeHeaderBlock(id) else { return 0 }
            if stream.delegate == nil {
                guard let router else { return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue }
                stream.delegate = router.delegate(for: stream, headers: headers)
                if endStream {
                    stream.delegate?.stream(stream, receivedData: UnsafeRawBufferPointer(start: nil, count: 0), endStream: true)
                }
            } else {
                stream.delegate?.stream(stream, receivedHeaders: headers, endStream: endStream)
            }
        case NGHTTP2_DATA.rawValue:
            if endStream, let stream = streams[id] {
                stream.delegate?.stream(stream, receivedData: UnsafeRawBufferPointer(start: nil, count: 0), endStream: true)
            }
        case NGHTTP2_GOAWAY.rawValue:
            receivedGoAway = true
        default:
            break
        }
        return 0
    }

    fileprivate func dataChunk(streamID: Int32, data: UnsafeRawBufferPointer) -> Int32 {
        guard let stream = streams[streamID] else { return 0 }
        stream.delegate?.stream(stream, receivedData: data, endStream: false)
        return 0
    }

    fileprivate func streamClosed(streamID: Int32, errorCode: UInt32) -> Int32 {
        if headerBlock?.id == streamID { headerBlock = nil }
        guard let stream = streams.removeValue(forKey: streamID) else { return 0 }
        stream.markClosed()
        stream.delegate?.streamClosed(stream, errorCode: errorCode)
        stream.delegate = nil
        return 0
    }

    fileprivate func readData(streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                              flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let session, let stream = streams[streamID] else {
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        let n = min(length, stream.outbound.readableBytes)
        if n > 0 {
            stream.outbound.withUnsafeReadableBytes { source in
                buffer.update(from: source.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n)
            }
            stream.outbound.moveReaderIndex(forwardBy: n)
        }
        if stream.outbound.readableBytes == 0 {
            // Let go of the taken bytes: the buffer may be the writer's (`enqueue`), which it may reuse.
            stream.outbound = ByteBuffer()
            if stream.outboundEnded {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                if let trailers = stream.trailers {
                    flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                    let rc = withNameValueArray(trailers) { nva, count in
                        nghttp2_submit_trailer(session, streamID, nva, count)
                    }
                    if rc != 0 { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
                }
            } else if n == 0 {
                stream.deferred = true
                return Int(NGHTTP2_ERR_DEFERRED.rawValue)
            }
        }
        return n
    }
}

// C callbacks: capture-free, they find the connection through user_data.

/// Runs `body` on the connection behind `userData` without retaining it: nghttp2 calls back only
/// from inside the connection's own mem_recv / mem_send, which hold it alive. (Each retain and
/// release here cost ~3% of a Put's CPU while streams referenced the connection weakly, which
/// puts its reference count in a side table; they no longer do, see HTTP2Stream.connection.)
@inline(__always)
private func withConnection<R>(_ userData: UnsafeMutableRawPointer?, _ body: (HTTP2Connection) -> R) -> R {
    Unmanaged<HTTP2Connection>.fromOpaque(userData!)._withUnsafeGuaranteedRef(body)
}

private let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
    withConnection(userData) { $0.beginHeaders(frame!) }
}

private let onHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    withConnection(userData) { $0.header(frame!, name: UnsafeRawBufferPointer(start: name, count: nameLength),
                                value: UnsafeRawBufferPointer(start: value, count: valueLength)) }
}

private let onFrameReceived: nghttp2_on_frame_recv_callback = { _, frame, userData in
    withConnection(userData) { $0.frameReceived(frame!) }
}

private let onDataChunk: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    withConnection(userData) { $0.dataChunk(streamID: streamID, data: UnsafeRawBufferPointer(start: data, count: length)) }
}

private let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    withConnection(userData) { $0.streamClosed(streamID: streamID, errorCode: errorCode) }
}

private let readStreamData: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
    withConnection(userData) { $0.readData(streamID: streamID, into: buffer!, length: length, flags: flags!) }
}
