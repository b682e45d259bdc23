import NIOCore

/// How a call's request messages reach its handler, whichever way they come in (HTTP/2 or in process):
/// a unary method gets its one request when the requests end, a streaming one each message as it comes.
/// No handler (an unknown method, already answered): messages are dropped. Event loop only.
struct RequestDelivery {
    let handler: GRPCHandler?
    private var unaryRequest: ByteBuffer?
    private var unaryCount = 0

    init(handler: GRPCHandler?) { self.handler = handler }

    mutating func receive(_ message: ByteBuffer, on call: ServerCall) {
        switch handler {
        case .unary:
            unaryCount += 1
            if unaryCount == 1 { unaryRequest = message }
        case .streaming:
            call.observer?.call(call, received: message)
        case nil:
            break
        }
    }

    /// The requests ended (half-close).
    mutating func end(on call: ServerCall) {
        switch handler {
        case .unary(let body):
            guard unaryCount == 1, let request = unaryRequest else {
                call.finishOnLoop(GRPCStatus(unaryCount == 0 ? .internal : .unimplemented,
                    unaryCount == 0 ? "grpc: client sent no request message" : "grpc: client streaming on a unary method"))
                return
            }
            unaryRequest = nil
            body(call, request)
        case .streaming:
            call.observer?.callReceivedEnd(call)
        case nil:
            break
        }
    }
}
