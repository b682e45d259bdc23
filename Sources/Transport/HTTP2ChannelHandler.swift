import NIOCore

/// Feeds a channel's bytes into an `HTTP2Connection` and writes what nghttp2 produces.
/// Output is flushed at the end of each read burst, or once per event-loop tick for responses produced
/// elsewhere, so many responses share one write.
final class HTTP2ChannelHandler: ChannelInboundHandler, HTTP2ConnectionOutput {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let connection: HTTP2Connection
    @exclusivity(unchecked) private var context: ChannelHandlerContext?
    @exclusivity(unchecked) private var flushScheduled = false
    @exclusivity(unchecked) private var closing = false

    init(connection: HTTP2Connection) {
        self.connection = connection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        connection.output = self
        if context.channel.isActive { flushNow() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        connection.tearDown()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        flushNow()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let ok = buffer.withUnsafeReadableBytes { connection.receive($0) }
        if !ok { fail() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushNow()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flushNow() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.tearDown()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            connection.beginGracefulShutdown()
            flushNow()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    // MARK: HTTP2ConnectionOutput

    func connectionWantsFlush() {
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolatedUnsafeUnchecked().execute {
            self.flushScheduled = false
            self.flushNow()
        }
    }

    /// Writes everything nghttp2 has, while the channel accepts it; closes when nghttp2 is done.
    private func flushNow() {
        guard let context, !connection.inSession, !closing else { return }
        var wrote = false
        while context.channel.isWritable {
            let (buffer, fatal) = connection.produceOutput(allocator: context.channel.allocator)
            if let buffer {
                context.write(wrapOutboundOut(buffer), promise: nil)
                wrote = true
            }
            if fatal { fail(); return }
            if buffer == nil { break }
        }
        if wrote { context.flush() }
        if connection.isFinished { close() }
    }

    /// A protocol error: send what nghttp2 queued (GOAWAY) and close.
    private func fail() {
        guard let context, !closing else { return }
        let (buffer, _) = connection.produceOutput(allocator: context.channel.allocator)
        if let buffer { context.writeAndFlush(wrapOutboundOut(buffer), promise: nil) }
        close()
    }

    private func close() {
        guard let context, !closing else { return }
        closing = true
        context.close(promise: nil)
    }
}
