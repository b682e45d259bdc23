import NIOCore

/// What a method's calls report when they end: grpc_server_handled_total by status code and, with
/// `--metrics extensive`, the handling time. Called once per call on its event loop, so implementations
/// must be cheap (atomic counters; a lock only where the operator asked for histograms).
public protocol GRPCMethodMetrics: AnyObject, Sendable {
    /// Whether `handled` wants the call's start time (taking it costs a clock read per call).
    var measuresLatency: Bool { get }
    func handled(_ code: GRPCStatus.Code, startedAt: NIODeadline)
}
