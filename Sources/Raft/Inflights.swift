// A bounded window of in-flight append messages to one follower (flow control in replicate state).

struct Inflights {
    /// Last entry index of each in-flight message, oldest first, in a ring buffer.
    private var buffer: [UInt64]
    private var start = 0
    private(set) var count = 0
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0, "inflight window must hold at least one message")
        self.capacity = capacity
        buffer = []  // grown lazily: most followers never fill their window
    }

    var isFull: Bool { count == capacity }

    mutating func add(_ index: UInt64) {
        precondition(!isFull, "cannot add into a full inflights window")
        if let newest = newest { precondition(index >= newest, "inflight indexes must not decrease") }
        var next = start + count
        if next >= capacity { next -= capacity }
        if next >= buffer.count {
            precondition(next == buffer.count, "inflights ring grows one slot at a time")
            buffer.append(index)
        } else {
            buffer[next] = index
        }
        count += 1
    }

    private var newest: UInt64? {
        guard count > 0 else { return nil }
        var i = start + count - 1
        if i >= capacity { i -= capacity }
        return buffer[i]
    }

    /// The follower acknowledged everything up to `to`: free those messages.
    mutating func freeLE(_ to: UInt64) {
        guard count > 0, buffer[start] <= to else { return }
        var idx = start
        var freed = 0
        while freed < count {
            if buffer[idx] > to { break }
            idx += 1
            if idx >= capacity { idx -= capacity }
            freed += 1
        }
        count -= freed
        start = count == 0 ? 0 : idx
    }

    mutating func freeFirstOne() {
        guard count > 0 else { return }
        freeLE(buffer[start])
    }

    mutating func reset() {
        count = 0
        start = 0
    }
}
