// The history a test records: operations on a single-key KV store, with invocation and return times.
//
// Keys and values are Strings: tests choose them (unique values per write make failures easy to
// read); a server answer that is not valid UTF-8 decodes to a string no write produced, so it still
// fails the check. Revisions are left out on purpose: etcd's revisions are global across keys, and
// checking them would tie every key into one search (no partitioning by key, see Checker.swift).

/// How a read was served.
public enum ReadConsistency: Sendable, Hashable {
    /// Must see every write that completed before it started (etcd's default, ReadIndex).
    case linearizable
    /// A local read on one member: may be stale, but never older than what its own client already
    /// did or saw, and never from the future (the exact rule is in Checker.swift).
    case serializable
}

/// What a client asked for.
public enum Input: Sendable, Hashable {
    case put(key: String, value: String)
    case get(key: String, consistency: ReadConsistency = .linearizable)
    case delete(key: String)
    /// A Txn: if value(key) == expected (nil: the key does not exist) then put(key, new).
    case compareAndSet(key: String, expected: String?, new: String)

    public var key: String {
        switch self {
        case .put(let key, _), .get(let key, _), .delete(let key), .compareAndSet(let key, _, _): key
        }
    }
}

/// What the server answered (for an operation that returned successfully).
public enum Output: Sendable, Hashable {
    /// Put; also a delete whose deleted count the client did not look at.
    case done
    /// Get: the value read, nil when the key did not exist.
    case value(String?)
    /// Delete: how many keys it removed (0 or 1).
    case deleted(Int)
    /// Compare-and-set: whether the comparison held (and the put was applied).
    case succeeded(Bool)
}

public enum Outcome: Sendable, Hashable {
    /// Returned with this output: it took effect between invocation and return.
    case ok(Output)
    /// Definitely did not take effect (an error the server guarantees means "not applied"): ignored.
    case failed
    /// Timed out or the connection broke: it may take effect at any time after its invocation, or
    /// never, with any output.
    case unknown
}

public struct Operation: Sendable, Hashable, CustomStringConvertible {
    public var id: Int
    /// Operations of one client are ordered by their times like any others; a serializable read is
    /// additionally bound to its own client's earlier operations (see Checker.swift).
    public var client: Int
    public var input: Input
    /// Monotonic time (any unit, e.g. nanoseconds) at which the request was sent.
    public var invokedAt: Int
    /// Monotonic time at which the answer arrived; nil when the outcome is unknown.
    public var returnedAt: Int?
    public var outcome: Outcome

    public init(id: Int, client: Int, input: Input, invokedAt: Int, returnedAt: Int?, outcome: Outcome) {
        self.id = id
        self.client = client
        self.input = input
        self.invokedAt = invokedAt
        self.returnedAt = returnedAt
        self.outcome = outcome
    }

    public var description: String {
        var text = "#\(id) c\(client) "
        switch input {
        case .put(let key, let value): text += "put(\(key), \(quoted(value)))"
        case .get(let key, let consistency):
            text += consistency == .linearizable ? "get(\(key))" : "get(\(key), serializable)"
        case .delete(let key): text += "delete(\(key))"
        case .compareAndSet(let key, let expected, let new):
            text += "cas(\(key), \(quoted(expected)) -> \(quoted(new)))"
        }
        switch outcome {
        case .ok(.done): text += " ok"
        case .ok(.value(let value)): text += " -> \(quoted(value))"
        case .ok(.deleted(let count)): text += " -> deleted \(count)"
        case .ok(.succeeded(let succeeded)): text += succeeded ? " -> succeeded" : " -> not succeeded"
        case .failed: text += " failed"
        case .unknown: text += " unknown"
        }
        text += " [\(invokedAt), \(returnedAt.map(String.init) ?? "∞"))"
        return text
    }
}

func quoted(_ value: String?) -> String {
    value.map { "\"\($0)\"" } ?? "nil"
}

public struct History: Sendable, Hashable {
    public var operations: [Operation]

    public init(_ operations: [Operation] = []) {
        self.operations = operations
    }
}
