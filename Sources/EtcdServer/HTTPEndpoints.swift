import Gateway
import KeelConfig
import NIOCore
import Transport

/// Plain HTTP on the client port: `/version`, `/health`, `/metrics`, and etcd's JSON gateway under /v3/
/// (not on the metrics listener, where `gateway` is nil).
struct HTTPEndpoints: HTTPResponder {
    let context: ServerContext
    let metrics: ServerMetrics
    var gateway: GatewayResponder? = nil

    func respond(to request: HTTPRequest, on eventLoop: EventLoop) -> EventLoopFuture<HTTPResponse> {
        if let gateway, GatewayResponder.handles(request.path) {
            // etcd (embed/serve.go): with --client-cert-auth and auth enabled, a gateway request whose
            // certificate names a user is refused, since the gateway could not act as that user.
            if context.auth.clientCertAuth, context.auth.isEnabled, request.path.hasPrefix("/v3/"),
               let cn = request.peerCommonName, !cn.isEmpty {
                return eventLoop.makeSucceededFuture(HTTPResponse(
                    status: 400, headers: [("content-type", "text/plain; charset=utf-8"), ("x-content-type-options", "nosniff")],
                    body: ByteBuffer(string: "CommonName of client sending a request against gateway will be ignored and not used as expected\n")))
            }
            return gateway.respond(to: request, on: eventLoop)
        }
        return eventLoop.makeSucceededFuture(answer(request))
    }

    private func answer(_ request: HTTPRequest) -> HTTPResponse {
        switch request.path {
        case "/version":
            return .json(200, #"{"etcdserver":"\#(KeelVersion.etcdVersion)","etcdcluster":"\#(KeelVersion.etcdClusterVersion)"}"#)
        case "/health":
            // etcd: healthy when there is no alarm and this member knows a leader.
            if context.store.backend.isNoSpaceAlarmRaised {
                return .json(503, #"{"health":"false","reason":"ALARM NOSPACE"}"#)
            }
            if !context.published.hasLeader {
                return .json(503, #"{"health":"false","reason":"RAFT NO LEADER"}"#)
            }
            return .json(200, #"{"health":"true"}"#)
        case "/metrics":
            return HTTPResponse(status: 200, headers: [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                                body: metrics.render(context))
        default:
            return HTTPResponse(status: 404, headers: [("content-type", "text/plain; charset=utf-8")],
                                body: ByteBuffer(string: "404 page not found\n"))
        }
    }
}
