import KeelClient
import NIOCore
import Transport

/// The watch side of `keel-bench watch` on one event loop: its streams and what they received.
/// Loop-confined like `LoopWorker`; responses are never decoded beyond their top-level fields.
final class WatchTracker {
    let eventLoop: EventLoop
    private var streams: [WatchStreamClient] = []
    /// Watchers asked for on this loop, and how many the server has confirmed (`created`).
    private(set) var watchers = 0
    private(set) var created = 0
    /// Events received (one per `events` entry of a WatchResponse) and when the last one arrived.
    private(set) var events = 0
    private(set) var responses = 0
    private(set) var lastEventAt: UInt64 = 0
    private(set) var canceled = 0
    private(set) var errors = 0
    private(set) var firstError: String?
    /// Unknown until the puts are done: then successful puts × this loop's watchers.
    private var expected = Int.max
    private let allCreated: EventLoopPromise<Void>
    private let allEvents: EventLoopPromise<Void>
    private var createdDone = false
    private var eventsDone = false

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        self.allCreated = eventLoop.makePromise()
        self.allEvents = eventLoop.makePromise()
    }

    /// Opens a stream on `connection` (on this loop) and registers `count` watchers on it.
    func open(connection: HTTP2Connection, headers: HTTP2Headers, creates: ByteBuffer, count: Int) {
        eventLoop.preconditionInEventLoop()
        let client = WatchStreamClient(tracker: self)
        streams.append(client)
        watchers += count
        guard let stream = HTTP2ClientSetup.start(connection, headers: headers, delegate: client) else {
            recordError("connection is closed")
            return
        }
        client.stream = stream
        stream.write(creates)
    }

    /// Succeeds once every watcher on this loop is created; fails after `timeout` or a stream error.
    func waitCreated(timeout: TimeAmount) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        checkCreated()
        eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard !createdDone else { return }
            createdDone = true
            allCreated.fail(BenchError(
                "only \(created) of \(watchers) watchers created after \(timeout.nanoseconds / 1_000_000_000) s"
                + (firstError.map { " (first error: \($0))" } ?? "")))
        }
        return allCreated.futureResult
    }

    /// The puts are done: wait for `puts` events per watcher, or give up after `timeout`.
    func waitEvents(puts: Int, timeout: TimeAmount) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        expected = puts * watchers
        checkEvents()
        eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard !eventsDone else { return }
            eventsDone = true
            allEvents.succeed(())
        }
        return allEvents.futureResult
    }

    var complete: Bool { events >= expected }

    /// Closes every stream (RST_STREAM CANCEL), so the servers stop sending before the next run.
    func closeAll() {
        eventLoop.preconditionInEventLoop()
        for client in streams { client.stream?.reset() }
    }

    // MARK: from the streams

    @inline(__always)
    fileprivate func received(events count: Int, created isCreated: Bool, canceled isCanceled: Bool) {
        responses += 1
        if count > 0 {
            events += count
            lastEventAt = NIODeadline.now().uptimeNanoseconds
            if events >= expected { checkEvents() }
        }
        if isCreated {
            created += 1
            if created >= watchers { checkCreated() }
        }
        if isCanceled {
            canceled += 1
            recordError("a watch was canceled by the server")
        }
    }

    fileprivate func recordError(_ message: @autoclosure () -> String) {
        errors += 1
        if firstError == nil { firstError = message() }
    }

    private func checkCreated() {
        guard !createdDone, created >= watchers else { return }
        createdDone = true
        allCreated.succeed(())
    }

    private func checkEvents() {
        guard !eventsDone, events >= expected else { return }
        eventsDone = true
        allEvents.succeed(())
    }
}

/// One Watch stream: deframes gRPC messages and walks only the top-level fields of each
/// WatchResponse (created = 3, canceled = 4, events = 11), skipping every event's bytes.
final class WatchStreamClient: HTTP2StreamDelegate {
    private unowned let tracker: WatchTracker
    var stream: HTTP2Stream?
    /// Bytes of a message that spans DATA frames.
    private var carry: [UInt8] = []
    private var status: String?

    init(tracker: WatchTracker) {
        self.tracker = tracker
    }

    func stream(_ stream: HTTP2Stream, receivedHeaders headers: HTTP2Headers, endStream: Bool) {
        if let code = headers["grpc-status"] {
            status = "grpc-status \(code): \(headers["grpc-message"] ?? "")"
        } else if let http = headers.status, http != "200" {
            status = "HTTP status \(http)"
        }
    }

    func stream(_ stream: HTTP2Stream, receivedData data: UnsafeRawBufferPointer, endStream: Bool) {
        if carry.isEmpty {
            let used = parse(data)
            if used < data.count { carry.append(contentsOf: data[used...]) }
        } else {
            carry.append(contentsOf: data)
            let used = carry.withUnsafeBytes { parse($0) }
            carry.removeFirst(used)
        }
    }

    func streamClosed(_ stream: HTTP2Stream, errorCode: UInt32) {
        self.stream = nil
        tracker.recordError("watch stream closed: " + (status ?? "HTTP/2 error \(errorCode)"))
    }

    /// Consumes every complete gRPC message in `bytes`; returns how many bytes it used.
    private func parse(_ bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while bytes.count - offset >= 5 {
            let length = Int(bytes[offset + 1]) << 24 | Int(bytes[offset + 2]) << 16
                | Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            guard bytes.count - offset - 5 >= length else { break }
            scanResponse(UnsafeRawBufferPointer(rebasing: bytes[(offset + 5)..<(offset + 5 + length)]))
            offset += 5 + length
        }
        return offset
    }

    @inline(__always)
    private func scanResponse(_ message: UnsafeRawBufferPointer) {
        var index = 0
        var events = 0
        var created = false
        var canceled = false
        @inline(__always) func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while index < message.count, shift < 64 {
                let byte = message[index]
                index += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
            return nil
        }
        while index < message.count {
            guard let tag = varint() else { break }
            switch tag & 7 {
            case 0:
                guard let value = varint() else { break }
                if tag >> 3 == 3 && value != 0 { created = true }
                if tag >> 3 == 4 && value != 0 { canceled = true }
            case 1: index += 8
            case 2:
                guard let length = varint() else { break }
                index += Int(length)
                if tag >> 3 == 11 { events += 1 }
            case 5: index += 4
            default: index = message.count  // groups: not in WatchResponse
            }
        }
        tracker.received(events: events, created: created, canceled: canceled)
    }
}

enum WatchCreates {
    /// `count` framed WatchRequests (packed by KeelClient), each creating a watcher on [key, rangeEnd).
    static func framed(key: [UInt8], rangeEnd: [UInt8], count: Int) -> ByteBuffer {
        var options = WatchOptions()
        options.rangeEnd = rangeEnd
        let message = EtcdRequestEncoding.watchCreate(key: key, options: options)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count * (5 + message.count))
        for _ in 0..<count {
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(UInt32(message.count))
            buffer.writeBytes(message)
        }
        return buffer
    }
}
