/// A connection's open streams by id: an open-addressing table (linear probing, backward-shift
/// deletion, a multiplicative hash). Every frame callback looks its stream up, 6–8 times per request
/// on each side; a `Dictionary` hashed each id with SipHash, a few percent of an event loop's time.
struct StreamTable<Value> {
    private var ids: [Int32]
    private var slots: [Value?]
    private var mask: Int
    private var shift: Int
    private(set) var count = 0

    /// Stream ids are positive; 0 marks a free slot.
    private static var free: Int32 { 0 }

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        ids = [Int32](repeating: Self.free, count: size)
        slots = [Value?](repeating: nil, count: size)
        mask = size - 1
        shift = 64 - size.trailingZeroBitCount
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func home(_ id: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: id)) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    subscript(id: Int32) -> Value? {
        get {
            precondition(id > 0, "stream ids are positive")
            var i = home(id)
            while true {
                let k = ids[i]
                if k == id { return slots[i] }
                if k == Self.free { return nil }
                i = (i + 1) & mask
            }
        }
        set {
            if let newValue { insert(id, newValue) } else { removeValue(forKey: id) }
        }
    }

    private mutating func insert(_ id: Int32, _ stream: Value) {
        precondition(id > 0, "stream ids are positive")
        if (count + 1) * 2 > ids.count { grow() }
        var i = home(id)
        while true {
            let k = ids[i]
            if k == id {
                slots[i] = stream
                return
            }
            if k == Self.free {
                ids[i] = id
                slots[i] = stream
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    @discardableResult
    mutating func removeValue(forKey id: Int32) -> Value? {
        precondition(id > 0, "stream ids are positive")
        var i = home(id)
        while ids[i] != id {
            if ids[i] == Self.free { return nil }
            i = (i + 1) & mask
        }
        let removed = slots[i]
        // Backward shift: pull later members of the probe run into the hole, so lookups never need
        // tombstones and never stop early at a freed slot.
        var hole = i
        var j = (i + 1) & mask
        while ids[j] != Self.free {
            let h = home(ids[j])
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !stays {
                ids[hole] = ids[j]
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        ids[hole] = Self.free
        slots[hole] = nil
        count -= 1
        return removed
    }

    var values: [Value] { slots.compactMap { $0 } }

    mutating func removeAll() {
        guard count > 0 else { return }
        for i in ids.indices {
            ids[i] = Self.free
            slots[i] = nil
        }
        count = 0
    }

    private mutating func grow() {
        var bigger = StreamTable<Value>(capacity: ids.count)
        for i in ids.indices where ids[i] != Self.free { bigger.insert(ids[i], slots[i]!) }
        self = bigger
    }
}
