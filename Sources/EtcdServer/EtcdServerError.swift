import MVCC
import RPC

/// An error answered to the client: a gRPC status code and etcd's exact text.
public struct EtcdServerError: Error, Sendable, Equatable {
    public let status: GRPCStatus

    public init(_ code: GRPCStatus.Code, _ message: String) {
        status = GRPCStatus(code, message)
    }

    public init(_ error: EtcdError) {
        status = GRPCStatus(GRPCStatus.Code(rawValue: error.code) ?? .unknown, error.message)
    }

    /// grpc-go's answer when the request does not unmarshal.
    static let malformedRequest = EtcdServerError(.internal, "grpc: error unmarshalling request: unexpected EOF")
    static let requestTooLarge = EtcdServerError(EtcdError.requestTooLarge)
    static let tooManyRequests = EtcdServerError(.resourceExhausted, "etcdserver: too many requests")
    static let stopped = EtcdServerError(.unavailable, "etcdserver: server stopped")
    static let learnerNotSupported = EtcdServerError(.unavailable, "etcdserver: rpc not supported for learner")
    static let noLeader = EtcdServerError(.unavailable, "etcdserver: no leader")
    static let leaderChanged = EtcdServerError(.unavailable, "etcdserver: leader changed")
    static let timeout = EtcdServerError(.unavailable, "etcdserver: request timed out")
    static let invalidSortOption = EtcdServerError(.invalidArgument, "etcdserver: invalid sort option")
    static let noSpace = EtcdServerError(EtcdError.noSpace)
}
