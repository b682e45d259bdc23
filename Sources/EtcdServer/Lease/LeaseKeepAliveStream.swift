import EtcdProto
import NIOCore
import RPC

/// etcdserverpb.Lease/LeaseKeepAlive: each request renews one lease and gets one response, in order.
/// The leader renews at once; a follower forwards each renewal to the leader, one at a time (so answers
/// keep the order of requests), waiting up to the request timeout for a leader while there is none.
final class LeaseKeepAliveStream: GRPCRequestObserver, @unchecked Sendable {  // state confined to the event loop
    private let call: ServerCall
    private let service: LeaseService
    private var queue: [(id: Int64, request: ByteBuffer)] = []
    private var forwarding = false
    private var ended = false
    private var closed = false
    /// Requests waiting at most (a client that sends without reading is cut off rather than buffered).
    static let maxQueued = 10_000

    init(call: ServerCall, service: LeaseService) {
        self.call = call
        self.service = service
    }

    func call(_ call: ServerCall, received message: ByteBuffer) {
        guard !closed else { return }
        let id: Int64
        do {
            id = try withBytes(message) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__LeaseKeepAliveRequest.self, Descriptors.shared.leaseKeepAliveRequest, raw) { $0.pointee.id }
            }
        } catch {
            return close(with: error)
        }
        guard queue.count < Self.maxQueued else { return close(with: .tooManyRequests) }
        queue.append((id, message))
        pump()
    }

    func callReceivedEnd(_ call: ServerCall) {
        ended = true
        if queue.isEmpty && !forwarding { finish() }
    }

    func callCancelled(_ call: ServerCall) { closed = true }

    private func pump() {
        let context = service.context
        while !closed, !forwarding, let next = queue.first {
            if context.published.isLeader {
                queue.removeFirst()
                let ttl = service.renewHere(next.id)
                call.sendMessage { b in LeaseService.keepAliveResponse(b, id: next.id, ttl: ttl, context: context) }
                continue
            }
            forwarding = true
            forward(next.id, next.request, deadline: .now() + context.raft.settings.requestTimeout)
        }
        if ended && queue.isEmpty && !forwarding { finish() }
    }

    private func forward(_ id: Int64, _ request: ByteBuffer, deadline: NIODeadline) {
        let context = service.context
        let eventLoop = call.eventLoop
        context.leaderChannel.unary(LeaseService.renewPath, request: request, context: context, on: eventLoop).whenComplete { result in
            guard !self.closed else { return }
            var ttl: Int64?
            if case .success(let response) = result, response.status.code == .ok, let reply = response.messages.first {
                ttl = try? withBytes(reply) { raw throws(EtcdServerError) in
                    try withDecoded(Etcdserverpb__LeaseKeepAliveResponse.self, Descriptors.shared.leaseKeepAliveResponse, raw) { $0.pointee.ttl }
                }
            }
            if let ttl {
                self.queue.removeFirst()
                self.forwarding = false
                self.call.sendMessage { b in LeaseService.keepAliveResponse(b, id: id, ttl: ttl, context: context) }
                return self.pump()
            }
            // No leader yet (an election), or it just stepped down: try again until the deadline.
            guard NIODeadline.now() < deadline else { return self.close(with: .noLeader) }
            eventLoop.scheduleTask(in: context.raft.settings.tickInterval) {
                guard !self.closed else { return }
                if context.published.isLeader {
                    self.forwarding = false
                    return self.pump()
                }
                self.forward(id, request, deadline: deadline)
            }
        }
    }

    private func finish() {
        guard !closed else { return }
        closed = true
        call.finish(.ok)
    }

    private func close(with error: EtcdServerError) {
        guard !closed else { return }
        closed = true
        call.fail(error)
    }
}
