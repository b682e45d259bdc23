import Atomics
import MVCC
import NIOConcurrencyHelpers

/// What a watcher asked for.
struct WatchSpec: Sendable {
    let key: [UInt8]
    let rangeEnd: [UInt8]
    let span: KeySpan
    let noPut: Bool
    let noDelete: Bool
    let prevKV: Bool
    /// Hear the current revision every progress interval when no events came (progress_notify).
    let progressNotify: Bool
    /// The client reassembles fragments: a revision too large for one response may be split.
    let fragment: Bool

    func wants(_ e: Event) -> Bool {
        if e.kind == .put && noPut { return false }
        if e.kind == .delete && noDelete { return false }
        return span.contains(e.kv.key)
    }
}

/// Receives the events of its watchers (implemented by the gRPC watch stream).
protocol WatchSink: AnyObject, Sendable {
    /// Events for `watchID`, whole revisions, in order; `revision` is the store revision they were read at.
    func deliver(watchID: Int64, events: [Event], revision: Int64)
    /// The store was replaced by a snapshot image: the watcher (already out of the synced set) must catch
    /// up again from history, from `revision` on.
    func resync(watchID: Int64, from revision: Int64)
}

/// The server's synced watchers: those that have seen every revision up to the store's current one and
/// get the rest from the applier as it publishes them (etcd's synced watcher group). Watchers that start
/// in the past first catch up from the store's history (`WatchCatchUp`) and join here without a gap or a
/// duplicate: they register inside the history reader's join, under the store's read lock, with the first
/// revision they still need, and events below it are dropped.
final class WatchHub: Sendable {
    struct Watcher: Sendable {
        let watchID: Int64
        let spec: WatchSpec
        /// Events before this revision were already delivered (from history).
        let minRevision: Int64
        let sink: WatchSink
    }

    private let watchers = NIOLockedValueBox([UInt64: Watcher]())
    private let nextKey = NIOLockedValueBox<UInt64>(1)
    /// Explicit bound on watchers in the whole server.
    let maxWatchers: Int
    /// Times a watcher left the synced set because its client read too slowly (for /metrics).
    let slowResyncs = ManagedAtomic<Int>(0)

    init(maxWatchers: Int = 100_000) { self.maxWatchers = maxWatchers }

    var count: Int { watchers.withLockedValue { $0.count } }
    /// Read by the applier on every batch without taking the lock: no watchers, nothing to gather.
    private let live = ManagedAtomic<Int>(0)
    var isEmpty: Bool { live.load(ordering: .relaxed) == 0 }

    /// Registers a synced watcher; returns its hub key (for removal), nil when the bound is reached.
    func add(_ w: Watcher) -> UInt64? {
        let key = nextKey.withLockedValue { k -> UInt64 in defer { k += 1 }; return k }
        return watchers.withLockedValue { all in
            guard all.count < maxWatchers else { return nil }
            all[key] = w
            live.store(all.count, ordering: .relaxed)
            return key
        }
    }

    func remove(_ key: UInt64) {
        watchers.withLockedValue { all in
            all.removeValue(forKey: key)
            live.store(all.count, ordering: .relaxed)
        }
    }

    /// Applier thread, after a snapshot image replaced the store: every synced watcher leaves the set and
    /// catches up from the new store's history, from the first revision it had not been sent (etcd moves
    /// all watchers to unsynced on restore; what the image no longer holds ends them as compacted).
    func storeRestored(previousRevision: Int64) {
        let all = watchers.withLockedValue { w in
            defer {
                w.removeAll()
                live.store(0, ordering: .relaxed)
            }
            return Array(w.values)
        }
        for w in all { w.sink.resync(watchID: w.watchID, from: max(w.minRevision, previousRevision + 1)) }
    }

    /// Applier thread, after the batch is published: hands each watcher its events, whole revisions.
    func notify(_ events: [Event], revision: Int64) {
        guard !events.isEmpty else { return }
        let current = watchers.withLockedValue { $0.isEmpty ? [] : Array($0.values) }
        for w in current {
            var mine: [Event] = []
            for e in events where e.kv.modRevision >= w.minRevision && w.spec.wants(e) { mine.append(e) }
            if !mine.isEmpty { w.sink.deliver(watchID: w.watchID, events: mine, revision: revision) }
        }
    }
}
