extension MVCCStore {
    /// Whether auth is enabled as applied here; lock-free.
    public var isAuthEnabled: Bool { authEnabled.load(ordering: .acquiring) }

    /// The applied auth state (a copy-on-write snapshot taken under the read lock).
    public var auth: AuthState { state.withReadLock { $0.auth } }

    /// The applied auth revision.
    public var authRevision: UInt64 { state.withReadLock { $0.auth.revision } }

    /// etcd's authApplierV3 for the KV and lease entries of a client: the permission each needs, checked
    /// at apply time against the permissions as applied (a change applied since the proposal wins).
    static func checkPermission(_ op: WriteOp, _ caller: AuthCaller, _ s: StoreState) throws(EtcdError) {
        let auth = s.auth
        switch op {
        case .put(let p):
            try auth.checkWrite(caller, key: p.key, rangeEnd: [])
            try checkLeaseKeys(p.lease, caller, s)
            if p.prevKV { try auth.checkRead(caller, key: p.key, rangeEnd: []) }
        case .deleteRange(let d):
            try auth.checkWrite(caller, key: d.key, rangeEnd: d.rangeEnd)
            if d.prevKV { try auth.checkRead(caller, key: d.key, rangeEnd: d.rangeEnd) }
        case .txn(let t):
            try auth.checkTxn(caller, t)
        case .leaseRevoke(let id):
            try checkLeaseKeys(id, caller, s)
        case .compact, .deleteKeys, .leaseGrant, .leaseCheckpoint, .auth, .noop:
            break
        }
    }

    /// Every key a lease carries must be writable by whoever attaches to or revokes it.
    private static func checkLeaseKeys(_ id: Int64, _ caller: AuthCaller, _ s: StoreState) throws(EtcdError) {
        guard id != 0, let lease = s.leases.leases[id] else { return }
        for key in lease.keys { try s.auth.checkWrite(caller, key: key, rangeEnd: []) }
    }
}
