/// A state-changing request the applier hands to `MVCCStore.apply`.
public enum WriteOp: Sendable, Equatable {
    case put(PutRequest)
    case deleteRange(DeleteRangeRequest)
    case txn(TxnRequest)
    case compact(CompactionRequest)
    /// Deletes exactly these keys in one revision (lease revocation), skipping absent ones.
    case deleteKeys([[UInt8]])
    /// Grants a lease (the id and the TTL, after the minimum-TTL rule, are the proposer's).
    case leaseGrant(id: Int64, ttl: Int64)
    /// Revokes a lease: its keys are deleted in one revision.
    case leaseRevoke(id: Int64)
    /// Records remaining TTLs (the leader's clock, through the log, so a new leader continues it).
    case leaseCheckpoint([LeaseCheckpoint])
    /// Users, roles, permissions, enabling auth, and authentications.
    case auth(AuthOp)
    /// Only advances the consistent index (entries for other state machines, conf changes).
    case noop
}

public enum WriteResponse: Sendable, Equatable {
    case put(PutResponse)
    case deleteRange(DeleteRangeResponse)
    case txn(TxnResponse)
    case compact
    case deleteKeys(deleted: Int64)
    case leaseGrant(id: Int64, ttl: Int64)
    case leaseRevoke(id: Int64)
    case leaseCheckpoint([LeaseCheckpoint])
    case auth(AuthResponse)
    case noop
}

/// The result of one applied entry.
public struct ApplyResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case applied(WriteResponse)
        case failed(EtcdError)
        /// The entry's index was ≤ the stored consistent index: already applied before a restart.
        case skipped
    }
    public var outcome: Outcome
    /// The store revision to report in the response header.
    public var revision: Int64
    /// Changes made, in order, for watchers (empty when nothing changed).
    public var events: [Event]

    public init(outcome: Outcome, revision: Int64, events: [Event] = []) {
        self.outcome = outcome
        self.revision = revision
        self.events = events
    }

    public var error: EtcdError? {
        if case .failed(let e) = outcome { return e }
        return nil
    }
}

/// Whether a lease id is currently granted. The lessor implements it; the default says no.
public protocol LeaseChecker: Sendable {
    func exists(_ id: Int64) -> Bool
}

public struct NoLeases: LeaseChecker {
    public init() {}
    public func exists(_ id: Int64) -> Bool { false }
}
