import NIOCore
import Transport

/// One outstanding request at a time on one HTTP/2 connection: when a response ends it records
/// the latency and sends the next request from the worker's budget. Confined to the event loop
/// of its connection; reused for every request, so the only per-request objects are nghttp2's
/// stream and the transport's own bookkeeping.
final class BenchClient: HTTP2StreamDelegate {
    private unowned let worker: LoopWorker
    private let connection: HTTP2Connection
    private let headers: HTTP2Headers
    /// The template, patched in place per request (unique, so patching never copies).
    private var request: ByteBuffer
    private let keyOffsets: [Int]
    private let keySize: Int
    private let keyChoice: KeyChoice
    private var random: SplitMix64
    private var sequence: Int
    private var startedAt: UInt64 = 0
    /// grpc-status of the response in flight: nil until its trailers arrive.
    private var status: Int?
    private var statusMessage: String?

    enum KeyChoice {
        case fixed
        case random(keySpace: Int)
        case sequential(keySpace: Int)
    }

    init(worker: LoopWorker, connection: HTTP2Connection, headers: HTTP2Headers, template: RequestTemplate,
         keyChoice: KeyChoice, seed: UInt64, firstSequence: Int) {
        self.worker = worker
        self.connection = connection
        self.headers = headers
        self.keyOffsets = template.keyOffsets
        self.keySize = template.keySize
        self.keyChoice = keyChoice
        self.random = SplitMix64(seed: seed)
        self.sequence = firstSequence
        var request = ByteBuffer()
        request.reserveCapacity(template.framed.readableBytes)
        var copy = template.framed
        request.writeBuffer(&copy)
        self.request = request
    }

    /// Sends requests until the worker's budget is spent; a request that cannot even start
    /// (connection gone) counts as an error and the loop moves on, so this always terminates.
    /// Under `--rate` a request whose slot is still ahead is sent when it comes.
    func sendNext() {
        while true {
            switch worker.takeRequest() {
            case .done:
                worker.clientFinished()
                return
            case .at(let deadline):
                worker.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                    if !send() { sendNext() }
                }
                return
            case .now:
                if send() { return }
            }
        }
    }

    /// Starts one request; false if the stream could not start (counted as an error).
    private func send() -> Bool {
        do {
            patchKey()
            status = nil
            statusMessage = nil
            startedAt = NIODeadline.now().uptimeNanoseconds
            guard let stream = HTTP2ClientSetup.start(connection, headers: headers, delegate: self) else {
                worker.recordError("connection is closed")
                return false
            }
            stream.write(request)
            stream.finish()
            return true
        }
    }

    @inline(__always)
    private func patchKey() {
        let index: Int
        switch keyChoice {
        case .fixed: return
        case .random(let keySpace): index = random.next(below: keySpace)
        case .sequential(let keySpace):
            index = sequence % keySpace
            sequence += 1
        }
        let keySpace: Int
        switch keyChoice {
        case .random(let space), .sequential(let space): keySpace = space
        case .fixed: return
        }
        request.withUnsafeMutableReadableBytes { bytes in
            // Several ops (txn-put): consecutive keys from the drawn one, distinct while ops <= key space.
            for (op, offset) in keyOffsets.enumerated() {
                let key = (index + op) % keySpace
                KeyFormat.write(key, into: UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + keySize]))
            }
        }
    }

    // MARK: HTTP2StreamDelegate (on the event loop, inside nghttp2's receive path)

    func stream(_ stream: HTTP2Stream, receivedHeaders headers: HTTP2Headers, endStream: Bool) {
        if let code = headers["grpc-status"] {
            status = Int(code) ?? -1
            if status != 0 { statusMessage = headers["grpc-message"] ?? "" }
        } else if let http = headers.status, http != "200" {
            status = -1
            statusMessage = "HTTP status \(http)"
        }
    }

    func stream(_ stream: HTTP2Stream, receivedData data: UnsafeRawBufferPointer, endStream: Bool) {
        // The response body is not decoded: the trailers' grpc-status says whether it succeeded.
    }

    func streamClosed(_ stream: HTTP2Stream, errorCode: UInt32) {
        let micros = (NIODeadline.now().uptimeNanoseconds &- startedAt) / 1000
        if errorCode == 0, status == 0 {
            worker.recordSuccess(micros: micros)
        } else if let status, status != 0 {
            worker.recordError("grpc-status \(status): \(statusMessage ?? "")")
        } else {
            worker.recordError(errorCode == 0 ? "stream ended without grpc-status" : "stream reset (HTTP/2 error \(errorCode))")
        }
        sendNext()
    }
}
