/// An error as etcd reports it over gRPC: status code + message, strings exactly as etcd 3.4's
/// `etcdserver/api/v3rpc/rpctypes/error.go`.
public struct EtcdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// gRPC status code.
    public let code: Int
    public let message: String

    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "EtcdError(\(code): \(message))" }

    // gRPC status codes used below.
    public static let codeInvalidArgument = 3
    public static let codeNotFound = 5
    public static let codeResourceExhausted = 8
    public static let codeFailedPrecondition = 9
    public static let codeOutOfRange = 11
    public static let codeInternal = 13
    public static let codeUnavailable = 14

    public static let emptyKey = EtcdError(code: codeInvalidArgument, message: "etcdserver: key is not provided")
    public static let keyNotFound = EtcdError(code: codeInvalidArgument, message: "etcdserver: key not found")
    public static let valueProvided = EtcdError(code: codeInvalidArgument, message: "etcdserver: value is provided")
    public static let leaseProvided = EtcdError(code: codeInvalidArgument, message: "etcdserver: lease is provided")
    public static let tooManyOps = EtcdError(code: codeInvalidArgument, message: "etcdserver: too many operations in txn request")
    public static let duplicateKey = EtcdError(code: codeInvalidArgument, message: "etcdserver: duplicate key given in txn request")
    public static let compacted = EtcdError(code: codeOutOfRange, message: "etcdserver: mvcc: required revision has been compacted")
    public static let futureRevision = EtcdError(code: codeOutOfRange, message: "etcdserver: mvcc: required revision is a future revision")
    public static let noSpace = EtcdError(code: codeResourceExhausted, message: "etcdserver: mvcc: database space exceeded")
    public static let leaseNotFound = EtcdError(code: codeNotFound, message: "etcdserver: requested lease not found")
    public static let leaseExists = EtcdError(code: codeFailedPrecondition, message: "etcdserver: lease already exists")
    public static let requestTooLarge = EtcdError(code: codeInvalidArgument, message: "etcdserver: request is too large")
    /// Not an etcd string: a backend failure other than running out of space (LMDB I/O error).
    public static func backendFailure(_ detail: String) -> EtcdError {
        EtcdError(code: codeInternal, message: "etcdserver: backend failure: \(detail)")
    }
}
