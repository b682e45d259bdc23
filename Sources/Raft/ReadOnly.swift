// Pending ReadIndex requests on the leader (etcd's read_only.go, "safe" mode only): a read may be
// served at `index` once a quorum acknowledged a heartbeat sent after the request arrived.

struct ReadIndexRequest {
    /// Who asked (`raftNoNode` or the leader itself for local requests).
    var from: UInt64
    var context: [UInt8]
    /// The commit index when the request arrived.
    var index: UInt64
    var acks: [UInt64]
}

struct ReadOnlyQueue {
    let capacity: Int
    private var pending: [[UInt8]: Int] = [:]  // context -> position in `queue` (relative to `head`)
    private var queue: [ReadIndexRequest] = []

    init(capacity: Int) {
        precondition(capacity > 0, "the read index queue needs room for at least one request")
        self.capacity = capacity
    }

    var count: Int { queue.count }
    var isFull: Bool { queue.count >= capacity }
    var lastContext: [UInt8]? { queue.last?.context }

    /// Queues a request; returns false for a duplicate context.
    mutating func add(from: UInt64, context: [UInt8], index: UInt64) -> Bool {
        precondition(!isFull, "read index queue is full")
        guard pending[context] == nil else { return false }
        pending[context] = queue.count
        queue.append(ReadIndexRequest(from: from, context: context, index: index, acks: []))
        return true
    }

    /// Records that `id` acknowledged the heartbeat carrying `context`; returns the acks so far.
    mutating func ack(_ id: UInt64, context: [UInt8]) -> [UInt64]? {
        guard let i = pending[context] else { return nil }
        if !queue[i].acks.contains(id) { queue[i].acks.append(id) }
        return queue[i].acks
    }

    /// Releases every request up to and including `context` (a quorum for a later heartbeat also
    /// confirms leadership for the earlier ones).
    mutating func advance(through context: [UInt8]) -> [ReadIndexRequest] {
        guard let i = pending[context] else { return [] }
        let released = Array(queue[0...i])
        queue.removeFirst(i + 1)
        pending.removeAll(keepingCapacity: true)
        for (j, r) in queue.enumerated() { pending[r.context] = j }
        return released
    }

    mutating func removeAll() {
        pending.removeAll()
        queue.removeAll()
    }
}
