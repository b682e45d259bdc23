// Error bodies and HTTP statuses as etcd 3.4's gateway (grpc-gateway v1 runtime) writes them.
import NIOCore
import RPC
import Transport

enum GatewayErrors {
    /// runtime.HTTPStatusFromCode.
    static func httpStatus(_ code: GRPCStatus.Code) -> Int {
        switch code {
        case .ok: return 200
        case .cancelled: return 408
        case .unknown: return 500
        case .invalidArgument: return 400
        case .deadlineExceeded: return 504
        case .notFound: return 404
        case .alreadyExists: return 409
        case .permissionDenied: return 403
        case .unauthenticated: return 401
        case .resourceExhausted: return 429
        case .failedPrecondition: return 412
        case .aborted: return 409
        case .outOfRange: return 400
        case .unimplemented: return 501
        case .internal: return 500
        case .unavailable: return 503
        case .dataLoss: return 500
        }
    }

    /// net/http's StatusText for the statuses above.
    static func statusText(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 412: return "Precondition Failed"
        case 429: return "Too Many Requests"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Internal Server Error"
        }
    }

    /// runtime.DefaultHTTPError: `{"error":m,"message":m,"code":c}` with the code's HTTP status.
    static func response(_ status: GRPCStatus) -> HTTPResponse {
        var w = JSONWriter()
        w.raw(#"{"error":"#)
        w.string(status.message)
        w.raw(#","message":"#)
        w.string(status.message)
        w.raw(#","code":\#(status.code.rawValue)}"#)
        return HTTPResponse(status: httpStatus(status.code), headers: [("content-type", "application/json")],
                            body: ByteBuffer(bytes: w.out))
    }

    /// The error object ending a stream (runtime.streamChunk with an error); no delimiter follows it.
    static func streamChunk(_ status: GRPCStatus) -> ByteBuffer {
        let http = httpStatus(status.code)
        var w = JSONWriter()
        w.raw(#"{"error":{"grpc_code":\#(status.code.rawValue),"http_code":\#(http),"message":"#)
        w.string(status.message)
        w.raw(#","http_status":"#)
        w.string(statusText(http))
        w.raw("}}")
        return ByteBuffer(bytes: w.out)
    }

    /// Go's mux for unknown paths and for paths whose service this server does not have.
    static let notFound = HTTPResponse(status: 404, headers: [("content-type", "text/plain; charset=utf-8"),
                                                              ("x-content-type-options", "nosniff")],
                                       body: ByteBuffer(string: "Not Found\n"))
    static let methodNotAllowed = HTTPResponse(status: 405, headers: [("content-type", "text/plain; charset=utf-8"),
                                                                      ("x-content-type-options", "nosniff")],
                                               body: ByteBuffer(string: "Method Not Allowed\n"))
}
