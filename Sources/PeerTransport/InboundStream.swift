import Logging
import NIOCore
import RPC
import Raft
import Transport

/// Checks the headers every peer call carries; nil when the call may proceed (after logging a refusal).
func refusal(of call: ServerCall, context: PeerTransportContext, logger: Logger) -> GRPCStatus? {
    let config = context.config
    guard let cluster = PeerWire.parseHex(call.headers[PeerWire.clusterHeader]) else {
        return GRPCStatus(.invalidArgument, "missing or malformed \(PeerWire.clusterHeader)")
    }
    guard let from = PeerWire.parseHex(call.headers[PeerWire.fromHeader]), from != 0 else {
        return GRPCStatus(.invalidArgument, "missing or malformed \(PeerWire.fromHeader)")
    }
    guard cluster == config.clusterID else {
        logger.error("refused a peer stream from another cluster",
                     metadata: ["remoteCluster": "\(PeerWire.hex(cluster))", "from": "\(PeerWire.hex(from))"])
        return GRPCStatus(.failedPrecondition,
                          "cluster ID mismatch: local \(PeerWire.hex(config.clusterID)), remote \(PeerWire.hex(cluster))")
    }
    guard let to = PeerWire.parseHex(call.headers[PeerWire.toHeader]), to == config.localID else {
        let to = call.headers[PeerWire.toHeader] ?? "none"
        logger.error("refused a peer stream meant for another member", metadata: ["to": "\(to)", "from": "\(PeerWire.hex(from))"])
        return GRPCStatus(.failedPrecondition, "member ID mismatch: this is \(PeerWire.hex(config.localID)), not \(to)")
    }
    if context.handler.isRemovedMember(from) {
        return GRPCStatus(.permissionDenied, PeerWire.removedMessage)
    }
    return nil
}

/// The receiving end of a peer's long-lived Stream call: decodes each message and hands it to Raft, and
/// acknowledges what it consumed once per event-loop tick. Confined to the call's event loop.
final class InboundStream: GRPCRequestObserver, @unchecked Sendable {
    private let context: PeerTransportContext
    private let from: UInt64
    private let logger: Logger
    private let call: ServerCall
    private var consumed: UInt64 = 0
    private var ackScheduled = false
    private var droppedMisaddressed = 0

    static func start(_ call: ServerCall, context: PeerTransportContext) {
        if let status = refusal(of: call, context: context, logger: context.logger) {
            return call.finish(status)
        }
        let from = PeerWire.parseHex(call.headers[PeerWire.fromHeader])!
        let stream = InboundStream(call: call, from: from, context: context)
        call.setObserver(stream)
        PeerWire.sendAck(0, on: call)  // hello: the stream is live
        stream.logger.debug("peer stream accepted")
    }

    private init(call: ServerCall, from: UInt64, context: PeerTransportContext) {
        self.call = call
        self.from = from
        self.context = context
        var logger = context.logger
        logger[metadataKey: "peer"] = "\(PeerWire.hex(from))"
        self.logger = logger
    }

    func call(_ call: ServerCall, received bytes: ByteBuffer) {
        // A stream opened before its member was removed is ended the same way new ones are refused.
        if context.handler.isRemovedMember(from) { return call.finish(GRPCStatus(.permissionDenied, PeerWire.removedMessage)) }
        consumed += UInt64(PeerWire.prefixBytes + bytes.readableBytes)
        let message: Message
        do {
            message = try Message.decode(Array(bytes.readableBytesView))
        } catch {
            logger.error("malformed message from peer; closing its stream", metadata: ["error": "\(error)"])
            return call.finish(GRPCStatus(.invalidArgument, "malformed raft message: \(error)"))
        }
        if message.to != context.config.localID || message.from != from {
            droppedMisaddressed += 1
            if droppedMisaddressed == 1 {
                logger.warning("dropping misaddressed peer messages",
                               metadata: ["to": "\(PeerWire.hex(message.to))", "from": "\(PeerWire.hex(message.from))"])
            }
        } else if message.type.isLocalOnly || message.type == .snapshot {
            logger.warning("dropping a peer message of a type not allowed on the stream", metadata: ["type": "\(message.type)"])
        } else {
            context.handler.receive(message)
        }
        scheduleAck()
    }

    /// One acknowledgment per loop tick, however many messages the tick delivered.
    private func scheduleAck() {
        guard !ackScheduled else { return }
        ackScheduled = true
        call.eventLoop.execute {
            self.ackScheduled = false
            PeerWire.sendAck(self.consumed, on: self.call)
        }
    }

    func callReceivedEnd(_ call: ServerCall) {
        call.finish(.ok)
    }

    func callCancelled(_ call: ServerCall) {
        logger.debug("peer stream closed")
    }
}
