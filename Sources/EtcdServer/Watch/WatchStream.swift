import CProtobufC
import Dispatch
import Foundation
import EtcdProto
import MVCC
import Atomics
import NIOCore
import RPC

/// etcdserverpb.Watch/Watch: one bidirectional stream carrying any number of watchers. Requests and
/// responses are handled on the call's event loop; the applier delivers from its own thread (hopping
/// here), and history catch-up runs on a background queue.
final class WatchStream: GRPCRequestObserver, WatchSink, @unchecked Sendable {  // state confined to the event loop
    private let call: ServerCall
    private let context: ServerContext
    private let hub: WatchHub
    private struct Entry {
        let spec: WatchSpec
        /// Key in the hub once the watcher is live; nil while it catches up from history.
        var hubKey: UInt64?
    }
    /// Watchers of this stream, by watch id.
    private var watchers: [Int64: Entry] = [:]
    private var nextWatchID: Int64 = 0
    private var closed = false
    /// Explicit bounds.
    static let maxWatchersPerStream = 10_000
    static let historyBatch = 1000
    /// A stream whose client reads slower than events come: past this many queued bytes its live watchers
    /// leave the synced set (writes never wait for a reader) and resume from history once it drains.
    static let maxPendingBytes = 4 << 20
    /// Events per response stop at about this many bytes (at a revision boundary).
    static let maxResponseBytes = 1 << 20

    static func start(_ call: ServerCall, context: ServerContext, hub: WatchHub) {
        call.setObserver(WatchStream(call: call, context: context, hub: hub))
    }

    private init(call: ServerCall, context: ServerContext, hub: WatchHub) {
        self.call = call
        self.context = context
        self.hub = hub
    }

    // MARK: Requests

    func call(_ call: ServerCall, received message: ByteBuffer) {
        enum Request {
            case create(WatchSpec, startRevision: Int64, watchID: Int64)
            case cancel(Int64)
            case progress
            case unknown
        }
        let request: Request
        do {
            request = try withBytes(message) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__WatchRequest.self, Descriptors.shared.watchRequest, raw) { m in
                    switch m.pointee.request_union_case {
                    case ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST:
                        let c = m.pointee.create_request.pointee
                        let key = ProtoBytes.copy(c.key)
                        let rangeEnd = ProtoBytes.copy(c.range_end)
                        var noPut = false, noDelete = false
                        for i in 0..<c.n_filters {
                            if c.filters[i] == ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT { noPut = true }
                            if c.filters[i] == ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE { noDelete = true }
                        }
                        let spec = WatchSpec(key: key, rangeEnd: rangeEnd, span: KeySpan(key: key, rangeEnd: rangeEnd),
                                             noPut: noPut, noDelete: noDelete, prevKV: c.prev_kv != 0,
                                             progressNotify: c.progress_notify != 0, fragment: c.fragment != 0)
                        return .create(spec, startRevision: c.start_revision, watchID: c.watch_id)
                    case ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST:
                        return .cancel(m.pointee.cancel_request.pointee.watch_id)
                    case ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST:
                        return .progress
                    default:
                        return .unknown
                    }
                }
            }
        } catch {
            return call.fail(error)
        }
        switch request {
        case .create(let spec, let start, let id): authorizedCreate(spec, startRevision: start, requestedID: id)
        case .cancel(let id): cancel(id, reason: nil)
        case .progress: send(watchID: -1, revision: context.store.currentRevision)
        case .unknown: break
        }
    }

    /// etcd's recvLoop returns at the client's half-close but its sendLoop keeps the watchers going until the
    /// call ends (the JSON gateway half-closes once the request body is read, and the stream stays open).
    func callReceivedEnd(_ call: ServerCall) {}
    func callCancelled(_ call: ServerCall) { shutDown() }

    private func shutDown() {
        guard !closed else { return }
        closed = true
        progressTask?.cancel()
        progressTask = nil
        for case let key? in watchers.values.map(\.hubKey) { hub.remove(key) }
        watchers.removeAll()
    }

    /// etcd's isWatchPermitted: reading the watched range is required; a refusal is a created-and-canceled
    /// response with watch id -1 and the error's text as the reason, and the stream goes on.
    private func authorizedCreate(_ spec: WatchSpec, startRevision: Int64, requestedID: Int64) {
        let refusal: EtcdServerError?
        switch context.auth.resolve(call) {
        case .caller(let caller):
            do throws(EtcdServerError) {
                try context.auth.checkRead(caller, key: spec.key, rangeEnd: spec.rangeEnd)
                refusal = nil
            } catch {
                refusal = error
            }
        case .refused(let error):
            refusal = error
        case .waitForIndex:
            // The token's Authenticate entry is committed but not yet applied here: look again once it is.
            let bound = NIOLoopBound(self, eventLoop: call.eventLoop)
            let loop = call.eventLoop
            context.raft.linearizableRead { error in
                loop.execute {
                    if error == nil { bound.value.authorizedCreate(spec, startRevision: startRevision, requestedID: requestedID) }
                    else { bound.value.send(watchID: -1, revision: bound.value.context.store.currentRevision, created: true,
                                            canceled: true, reason: EtcdServerError.timeout.status.message) }
                }
            }
            return
        }
        if let refusal {
            let reason = refusal.status.code == .unauthenticated || refusal.status.message == EtcdError.authOldRevision.message
                || refusal.status.message == EtcdError.userEmpty.message ? refusal.status.message : EtcdError.permissionDenied.message
            return send(watchID: -1, revision: context.store.currentRevision, created: true, canceled: true, reason: reason)
        }
        create(spec, startRevision: startRevision, requestedID: requestedID)
    }

    private func create(_ spec: WatchSpec, startRevision: Int64, requestedID: Int64) {
        // etcd: a client-chosen id already in use fails the create; server ids count up from 0.
        var id = requestedID
        if id == 0 || id == -1 {
            while watchers[nextWatchID] != nil { nextWatchID += 1 }
            id = nextWatchID
            nextWatchID += 1
        } else if watchers[id] != nil || watchers.count >= Self.maxWatchersPerStream {
            return send(watchID: id, revision: context.store.currentRevision, created: true, canceled: true,
                        reason: "etcdserver: duplicate watch ID provided on the WatchStream")
        }
        if watchers.count >= Self.maxWatchersPerStream {
            return send(watchID: id, revision: context.store.currentRevision, created: true, canceled: true,
                        reason: "etcdserver: too many watchers on this stream")
        }
        watchers[id] = Entry(spec: spec, hubKey: nil)
        if spec.progressNotify && progressTask == nil { startProgressNotifications() }
        let store = context.store
        if startRevision > 0 && startRevision < store.compactedRevision {
            // etcd: created, then canceled with the compacted revision (header revision 0 in that answer).
            watchers.removeValue(forKey: id)
            send(watchID: id, revision: store.currentRevision, created: true)
            return send(watchID: id, revision: 0, canceled: true, compactRevision: store.compactedRevision)
        }
        // From now (start 0) or from a revision not yet written: join the live set under the store's read
        // lock, at the very revision announced in the created response, so no write can fall in between.
        // A start at or below the current revision catches up from history first.
        let hub = self.hub
        var announced: Int64 = 0
        let joined: UInt64?? = store.withConsistentRevision { rev in
            announced = rev
            guard startRevision == 0 || startRevision > rev else { return nil }
            return .some(hub.add(WatchHub.Watcher(watchID: id, spec: spec, minRevision: max(startRevision, rev + 1), sink: self)))
        }
        send(watchID: id, revision: announced, created: true)
        if let joined { return register(id, joined) }
        catchUp(id, spec, from: startRevision)
    }

    /// Reads history in bounded batches off the event loop, then joins the live set with no gap.
    private func catchUp(_ id: Int64, _ spec: WatchSpec, from start: Int64) {
        let store = context.store
        let hub = self.hub
        let eventLoop = call.eventLoop
        DispatchQueue.global().async { [self] in
            var next = start
            while true {
                var joined: UInt64?? = nil
                let batch: HistoryBatch
                do {
                    batch = try store.events(from: next, key: spec.key, rangeEnd: spec.rangeEnd, prevKV: spec.prevKV,
                                             limit: Self.historyBatch) { b in
                        // Still under the store's read lock: queue the last history events before the
                        // watcher goes live, so the applier's next delivery can only come after them.
                        let events = b.events.filter { spec.wants($0) }
                        if !events.isEmpty { self.deliver(watchID: id, events: events, revision: b.currentRevision) }
                        joined = .some(hub.add(WatchHub.Watcher(watchID: id, spec: spec, minRevision: b.nextRevision, sink: self)))
                    }
                } catch {
                    let compacted = store.compactedRevision
                    eventLoop.execute {
                        self.watchers.removeValue(forKey: id)
                        self.send(watchID: id, revision: 0, canceled: true, compactRevision: compacted)
                    }
                    return
                }
                if let joined {
                    eventLoop.execute { self.register(id, joined) }
                    return
                }
                let events = batch.events.filter { spec.wants($0) }
                if !events.isEmpty { deliver(watchID: id, events: events, revision: batch.currentRevision) }
                next = batch.nextRevision
                // Stop if the stream or the watcher went away; wait while the client has not read what
                // was sent (history is read no faster than the client takes it).
                while true {
                    let state = try? eventLoop.submit { (gone: self.closed || self.watchers[id] == nil,
                                                         pending: self.call.pendingOutboundBytes) }.wait()
                    guard let state, !state.gone else { return }
                    if state.pending <= Self.maxPendingBytes / 2 { break }
                    Thread.sleep(forTimeInterval: 0.01)  // a background thread polling the client's progress, for the stream's life
                }
            }
        }
    }

    /// Records the hub key of a watcher that joined the live set (or drops it if it was canceled meanwhile).
    private func register(_ id: Int64, _ key: UInt64?) {
        guard let key else {
            watchers.removeValue(forKey: id)
            return send(watchID: id, revision: context.store.currentRevision, canceled: true,
                        reason: "etcdserver: too many watchers")
        }
        if closed || watchers[id] == nil { return hub.remove(key) }
        watchers[id]?.hubKey = key
    }

    private func cancel(_ id: Int64, reason: String?) {
        guard let entry = watchers.removeValue(forKey: id) else { return }
        if let key = entry.hubKey { hub.remove(key) }
        send(watchID: id, revision: context.store.currentRevision, canceled: true, reason: reason)
    }

    // MARK: Responses

    /// Any thread (the applier, the catch-up queue): whole revisions, in order.
    func deliver(watchID: Int64, events: [Event], revision: Int64) {
        let store = context.store
        call.eventLoop.execute { [self] in
            guard !closed, let entry = watchers[watchID] else { return }
            // A live watcher on a stream that is not being read falls behind: leave the synced set and
            // resume these very events from history once the client has drained what is queued (etcd's
            // victim watchers). Memory stays bounded, writes and other watchers never wait for it.
            if let key = entry.hubKey, call.pendingOutboundBytes > Self.maxPendingBytes, let first = events.first {
                hub.remove(key)
                hub.slowResyncs.wrappingIncrement(ordering: .relaxed)
                watchers[watchID]?.hubKey = nil
                resumeWhenDrained(watchID, entry.spec, from: first.kv.modRevision)
                return
            }
            if entry.hubKey == nil && !events.isEmpty && behind.contains(watchID) { return }  // history will resend
            // Responses of about `maxResponseBytes`, split only between revisions (clients refuse
            // messages over their receive limit, 4 MiB by default in grpc; a catch-up reads far more).
            // A watcher that asked for fragments also gets one revision larger than --max-request-bytes
            // in pieces, all but the last marked `fragment` (etcd's rule; clients reassemble them).
            let fragmentBytes = entry.spec.fragment ? context.limits.maxRequestBytes : Int.max
            var events = events
            if entry.spec.prevKV {
                for i in events.indices where events[i].prevKV == nil { events[i].prevKV = Self.previous(events[i], store) }
            }
            var start = 0
            var bytes = 0
            for i in events.indices {
                let e = events[i]
                let sameRevision = i > start && e.kv.modRevision == events[i - 1].kv.modRevision
                if i > start && ((bytes >= Self.maxResponseBytes && !sameRevision) || bytes >= fragmentBytes) {
                    send(watchID: watchID, revision: revision, fragment: sameRevision, events: Array(events[start..<i]))
                    start = i
                    bytes = 0
                }
                bytes += Self.approximateSize(e)
            }
            send(watchID: watchID, revision: revision, events: Array(events[start...]))
        }
    }

    // MARK: Progress notifications

    private var progressTask: RepeatedTask?
    /// Watchers that were sent events since the last progress tick (they need no notification).
    private var sentSinceTick: Set<Int64> = []

    /// etcd's progress ticker: every interval, each synced progress_notify watcher that got no events
    /// since the last tick is told the current revision (an empty response with its watch id).
    private func startProgressNotifications() {
        let interval = context.watchProgressInterval
        progressTask = call.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            guard !closed else { return }
            let revision = context.store.currentRevision
            for (id, entry) in watchers where entry.spec.progressNotify && entry.hubKey != nil && !sentSinceTick.contains(id) {
                send(watchID: id, revision: revision)
            }
            sentSinceTick.removeAll(keepingCapacity: true)
        }
    }

    func resync(watchID: Int64, from revision: Int64) {
        call.eventLoop.execute { [self] in
            guard !closed, let entry = watchers[watchID] else { return }
            watchers[watchID]?.hubKey = nil
            catchUp(watchID, entry.spec, from: revision)
        }
    }

    /// Watchers waiting for their stream to drain before catching up again.
    private var behind: Set<Int64> = []

    private func resumeWhenDrained(_ id: Int64, _ spec: WatchSpec, from revision: Int64) {
        behind.insert(id)
        call.eventLoop.scheduleTask(in: .milliseconds(20)) { [self] in
            guard !closed, watchers[id] != nil else {
                behind.remove(id)
                return
            }
            if call.pendingOutboundBytes > Self.maxPendingBytes / 2 { return resumeWhenDrained(id, spec, from: revision) }
            behind.remove(id)
            catchUp(id, spec, from: revision)
        }
    }

    static func approximateSize(_ e: Event) -> Int {
        e.kv.key.count + e.kv.value.count + (e.prevKV.map { $0.key.count + $0.value.count } ?? 0) + 32
    }

    private func send(watchID: Int64, revision: Int64, created: Bool = false, canceled: Bool = false,
                      compactRevision: Int64 = 0, reason: String? = nil, fragment: Bool = false, events: [Event] = []) {
        let header = context.header(revision: revision)
        let wantsPrev = !events.isEmpty && watchers[watchID]?.spec.prevKV == true
        if !events.isEmpty && progressTask != nil { sentSinceTick.insert(watchID) }
        call.sendMessage { builder in
            let m = builder.arena.message(etcdserverpb__watch_response__init)
            m.pointee.header = builder.header(header)
            m.pointee.watch_id = watchID
            m.pointee.created = created ? 1 : 0
            m.pointee.canceled = canceled ? 1 : 0
            m.pointee.compact_revision = compactRevision
            m.pointee.fragment = fragment ? 1 : 0
            if let reason { m.pointee.cancel_reason = builder.arena.cString(reason) }
            if !events.isEmpty {
                let list = builder.arena.pointerArray(of: Mvccpb__Event.self, count: events.count)
                for (i, e) in events.enumerated() {
                    let p = builder.arena.message(mvccpb__event__init)
                    p.pointee.type = e.kind == .put ? MVCCPB__EVENT__EVENT_TYPE__PUT : MVCCPB__EVENT__EVENT_TYPE__DELETE
                    p.pointee.kv = builder.keyValue(e.kv)
                    if wantsPrev, let prev = e.prevKV { p.pointee.prev_kv = builder.keyValue(prev) }
                    list[i] = p
                }
                m.pointee.n_events = events.count
                m.pointee.events = list
            }
            return m
        }
    }

    /// prev_kv for a live event: the key as of the revision before (the applier does not read it for
    /// every write; only watchers that ask pay for it).
    private static func previous(_ e: Event, _ store: MVCCStore) -> KeyValue? {
        let r = try? store.range(RangeRequest(key: e.kv.key, revision: e.kv.modRevision - 1))
        return r?.kvs.first
    }
}
