import Logging
import MVCC
import NIOConcurrencyHelpers
import NIOCore

/// Runs the schedule every heartbeat: on the leader, proposes the revocations and checkpoints it asks for.
/// Proposals are fire-and-forget: one that does not apply is proposed again (LeaseSchedule's retry).
final class LeaseExpiry: Sendable {
    private let task = NIOLockedValueBox<RepeatedTask?>(nil)

    init(schedule: LeaseSchedule, context: ServerContext, interval: TimeAmount, eventLoop: EventLoop, logger: Logger) {
        let repeated = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let work = schedule.tick(leading: context.published.isLeader)
            for id in work.revoke {
                let requestID = context.nextRequestID()
                _ = context.raft.propose(InternalRequestCodec.leaseRevoke(requestID: requestID, leaseID: id), id: requestID) { outcome in
                    if case .applied(let r) = outcome, r.error == nil {
                        logger.debug("revoked an expired lease", metadata: ["lease": "\(hex(UInt64(bitPattern: id)))"])
                    }
                }
            }
            for batch in work.checkpoints {
                let requestID = context.nextRequestID()
                _ = context.raft.propose(InternalRequestCodec.leaseCheckpoint(requestID: requestID, batch), id: requestID) { _ in }
            }
        }
        task.withLockedValue { $0 = repeated }
    }

    func cancel() {
        task.withLockedValue { $0?.cancel(); $0 = nil }
    }
}
