import EtcdProto
import KeelConfig
import Logging
import MVCC
import NIOConcurrencyHelpers
import NIOCore

/// Drives MVCC's `AutoCompactor` from a timer and proposes the compactions it asks for, through the same
/// write path as a client's Compact (so they are logged, replayed, and ordered with every other write).
final class AutoCompaction: Sendable {
    private let task: RepeatedTask

    init?(mode: ServerConfig.AutoCompaction, context: ServerContext, eventLoop: EventLoop, logger: Logger) {
        let compactorMode: AutoCompactor.Mode
        switch mode {
        case .disabled:
            return nil
        case .periodic(let retention):
            let seconds = Double(retention.components.seconds) + Double(retention.components.attoseconds) / 1e18
            guard seconds > 0 else { return nil }
            compactorMode = .periodic(retention: seconds)
        case .revision(let retain):
            guard retain > 0 else { return nil }
            compactorMode = .revision(retain: retain)
        }
        let initial = AutoCompactor(mode: compactorMode)
        let period = TimeAmount.milliseconds(Int64(max(min(initial.interval, 1), 0.05) * 1000))
        let compactor = NIOLockedValueBox(initial)
        let start = NIODeadline.now()
        task = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            let now = Double((NIODeadline.now() - start).nanoseconds) / 1e9
            // Only the leader compacts, as etcd's compactor runs only there; the compaction reaches the
            // others through the log.
            guard context.published.isLeader else { return }
            guard let revision = compactor.withLockedValue({ $0.tick(now: now, currentRevision: context.store.currentRevision) }),
                  revision > context.store.compactedRevision else { return }
            Self.propose(revision: revision, context: context, logger: logger)
        }
    }

    static func propose(revision: Int64, context: ServerContext, logger: Logger) {
        var request = Etcdserverpb__CompactionRequest()
        etcdserverpb__compaction_request__init(&request)
        request.revision = revision
        let bytes = ProtoCodec.packed(&request)
        let id = context.nextRequestID()
        let data = bytes.withUnsafeBytes { InternalRequestCodec.encode(id: id, field: .compaction, request: $0) }
        logger.info("Starting auto-compaction", metadata: ["revision": "\(revision)"])
        let error = context.propose(data, id: id) { result in
            if let failure = result.error {
                logger.warning("auto-compaction failed", metadata: ["revision": "\(revision)", "error": "\(failure.message)"])
            } else {
                logger.info("Finished auto-compaction", metadata: ["revision": "\(revision)"])
            }
        }
        if let error { logger.warning("auto-compaction not proposed", metadata: ["error": "\(error.status.message)"]) }
    }

    func cancel() {
        task.cancel()
    }
}
