import Backend

/// A granted lease as every member's applied state holds it: etcd's lessor without the clock. When a
/// lease runs out is the leader's business (EtcdServer's LeaseSchedule); here it only exists, carries
/// keys, and is revoked by a log entry.
public struct LeaseRecord: Sendable, Equatable {
    public var id: Int64
    /// The TTL granted, in seconds (the proposer already applied the minimum-TTL rule).
    public var ttl: Int64
    /// The remaining TTL last checkpointed through the log, in seconds; 0 when none was since the grant.
    public var remainingTTL: Int64
    /// Keys whose current version carries this lease.
    public var keys: Set<[UInt8]>

    public init(id: Int64, ttl: Int64, remainingTTL: Int64 = 0, keys: Set<[UInt8]> = []) {
        (self.id, self.ttl, self.remainingTTL, self.keys) = (id, ttl, remainingTTL, keys)
    }
}

/// One lease's remaining TTL, as the leader checkpoints it.
public struct LeaseCheckpoint: Sendable, Equatable {
    public var id: Int64
    public var remainingTTL: Int64
    public init(id: Int64, remainingTTL: Int64) { (self.id, self.remainingTTL) = (id, remainingTTL) }
}

/// The leases and which live key carries which, kept in step with the key index by the events of
/// every applied write (so puts, deletes, txns and revocations need no lease code of their own).
struct LeaseTable: Sendable, LeaseChecker {
    var leases: [Int64: LeaseRecord] = [:]
    /// key → lease, for every live key attached to one.
    var keyLease: [[UInt8]: Int64] = [:]

    func exists(_ id: Int64) -> Bool { leases[id] != nil }

    /// Follows the attachments through `events` (in order).
    mutating func track(_ events: [Event]) {
        if keyLease.isEmpty && leases.isEmpty { return }  // nothing leased: the common case costs nothing
        for e in events {
            let newLease = e.kind == .put ? e.kv.lease : 0
            if newLease == 0 && keyLease.isEmpty { continue }
            let key = e.kv.key
            let old = newLease == 0 ? keyLease.removeValue(forKey: key) : keyLease.updateValue(newLease, forKey: key)
            if let old, old != newLease { leases[old]?.keys.remove(key) }
            if newLease != 0 && old != newLease { leases[newLease]?.keys.insert(key) }
        }
    }

    // MARK: The lease bucket: 8-byte big-endian id → 8-byte TTL, 8-byte remaining TTL.

    static func bucketKey(_ id: Int64) -> [UInt8] { bigEndianBytes(UInt64(bitPattern: id)) }

    static func bucketValue(_ l: LeaseRecord) -> [UInt8] {
        bigEndianBytes(UInt64(bitPattern: l.ttl)) + bigEndianBytes(UInt64(bitPattern: l.remainingTTL))
    }

    /// Loads the lease bucket and attaches the keys found while restoring the index.
    static func load(_ tx: some BackendReading, keyLease: [[UInt8]: Int64]) throws -> LeaseTable {
        var table = LeaseTable()
        try tx.scan(.lease, from: []) { k, v in
            guard k.count == 8, v.count == 16 else { throw EtcdError.backendFailure("malformed record in the lease bucket") }
            let id = Int64(bitPattern: readBigEndian(k, at: 0))
            table.leases[id] = LeaseRecord(id: id, ttl: Int64(bitPattern: readBigEndian(v, at: 0)),
                                           remainingTTL: Int64(bitPattern: readBigEndian(v, at: 8)))
            return true
        }
        for (key, id) in keyLease where table.leases[id] != nil {
            table.keyLease[key] = id
            table.leases[id]!.keys.insert(key)
        }
        return table
    }
}
