import CProtobufC
import EtcdProto
import NIOCore
import RPC
import Synchronization

/// What to watch (etcdserverpb.WatchCreateRequest).
public struct WatchOptions: Sendable {
    /// Empty: the key alone; `[0]`: every key from the key on.
    public var rangeEnd: [UInt8] = []
    /// First revision to deliver; 0 starts after the current revision.
    public var startRevision: Int64 = 0
    public var prevKV = false
    public var progressNotify = false
    public var filterPuts = false
    public var filterDeletes = false

    public init() {}

    public static func prefix(of key: some EtcdBytes) -> WatchOptions {
        var options = WatchOptions()
        options.rangeEnd = prefixRangeEnd(key.etcdBytes)
        return options
    }
}

/// mvccpb.Event.
public struct WatchEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case put, delete }
    public var kind: Kind
    public var kv: KeyValue
    public var prevKV: KeyValue?
}

/// One WatchResponse carrying events or a progress notification (creation and cancellation are
/// handled by the stream itself and not delivered).
public struct WatchResponse: Sendable {
    public var header: ResponseHeader
    public var events: [WatchEvent]
    /// A progress notification: no events, the header's revision says how far the watch got.
    public var isProgressNotify: Bool { events.isEmpty }
}

/// A watch as an `AsyncSequence` of responses. If its stream breaks (member restart, connection
/// loss) it reconnects, failing over through the client's endpoints, and re-creates the watch
/// from the revision after the last one delivered, so no event is lost or repeated. It ends with
/// `EtcdError.compacted` if that revision has been compacted meanwhile, and ends when the
/// iterating task is cancelled or the client closes.
public struct WatchStream: AsyncSequence, Sendable {
    public typealias Element = WatchResponse
    let stream: AsyncThrowingStream<WatchResponse, Error>

    public func makeAsyncIterator() -> AsyncThrowingStream<WatchResponse, Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }
}

extension EtcdClient {
    /// Watches `key` (and `options.rangeEnd`).
    public func watch(_ key: some EtcdBytes, options: WatchOptions = WatchOptions()) -> WatchStream {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchResponse.self, bufferingPolicy: .unbounded)
        let runner = WatchRunner(client: self, key: key.etcdBytes, options: options, continuation: continuation)
        let task = Task { await runner.run() }
        continuation.onTermination = { _ in task.cancel(); runner.cancelStream() }
        return WatchStream(stream: stream)
    }
}

/// The reconnect loop of one watch.
final class WatchRunner: Sendable {
    private let client: EtcdClient
    private let key: [UInt8]
    private let options: WatchOptions
    private let continuation: AsyncThrowingStream<WatchResponse, Error>.Continuation

    private struct State {
        /// The revision to resume from (0 until the first created response when starting "now").
        var nextRevision: Int64
        var call: ClientCall?
        var finished = false
        /// Why the server ended the watch (compaction, cancel), once it did.
        var terminalError: EtcdError?
    }
    private let state: Mutex<State>

    init(client: EtcdClient, key: [UInt8], options: WatchOptions,
         continuation: AsyncThrowingStream<WatchResponse, Error>.Continuation) {
        self.client = client
        self.key = key
        self.options = options
        self.continuation = continuation
        self.state = Mutex(State(nextRevision: options.startRevision))
    }

    func cancelStream() {
        let call = state.withLock { s -> ClientCall? in s.finished = true; return s.call }
        call?.cancel()
    }

    func run() async {
        while !Task.isCancelled && !state.withLock({ $0.finished }) {
            let connection: GRPCClientConnection
            do {
                connection = try await client.pool.connection()
            } catch EtcdError.closed {
                finish(throwing: EtcdError.closed)
                return
            } catch {
                try? await Task.sleep(nanoseconds: UInt64(client.options.reconnectBackoff.nanoseconds))
                continue
            }
            let outcome = await runStream(on: connection)
            switch outcome {
            case .finished(let error):
                finish(throwing: error)
                return
            case .broken:
                client.pool.failed(connection)
                try? await Task.sleep(nanoseconds: UInt64(client.options.reconnectBackoff.nanoseconds))
            }
        }
        finish(throwing: nil)
    }

    private enum Outcome { case finished(Error?), broken }

    private func runStream(on connection: GRPCClientConnection) async -> Outcome {
        let request = createRequest(startRevision: state.withLock { $0.nextRevision })
        let call: ClientCall
        do {
            call = try await connection.makeCall("/etcdserverpb.Watch/Watch", metadata: client.pool.metadata, onMessage: { [self] message in
                self.received(Array(buffer: message))
            }).get()
        } catch {
            return .broken
        }
        let proceed = state.withLock { s -> Bool in
            guard !s.finished else { return false }
            s.call = call
            return true
        }
        guard proceed else { call.cancel(); return .finished(nil) }
        call.send(ByteBuffer(bytes: request))
        let response = try? await call.response.get()
        let (finished, terminalError) = state.withLock { s in
            s.call = nil
            return (s.finished, s.terminalError)
        }
        if finished { return .finished(terminalError) }
        if let status = response?.status, status.code != .unavailable, status.code != .ok, status.code != .cancelled,
           status.code != .internal {
            return .finished(EtcdError(status))
        }
        return .broken
    }

    private func createRequest(startRevision: Int64) -> [UInt8] {
        var options = self.options
        options.startRevision = startRevision
        return EtcdRequestEncoding.watchCreate(key: key, options: options)
    }

    /// On the event loop: one WatchResponse.
    private func received(_ bytes: [UInt8]) {
        enum Action { case none, deliver(WatchResponse), end(EtcdError) }
        let action: Action
        do {
            action = try Proto.read(bytes, etcdserverpb__watch_response__unpack, etcdserverpb__watch_response__free_unpacked) { r -> Action in
                let header = ResponseHeader(r.header)
                if r.canceled != 0 {
                    if r.compact_revision > 0 { return .end(.compacted(compactRevision: r.compact_revision)) }
                    return .end(.watchCanceled(reason: Proto.string(r.cancel_reason)))
                }
                let events = Proto.elements(r.events, r.n_events).map { e in
                    WatchEvent(kind: e.type == MVCCPB__EVENT__EVENT_TYPE__DELETE ? .delete : .put,
                               kv: e.kv.map { KeyValue($0.pointee) } ?? KeyValue(Mvccpb__KeyValue()),
                               prevKV: e.prev_kv.map { KeyValue($0.pointee) })
                }
                return state.withLock { s -> Action in
                    if r.created != 0 {
                        // Started "now": resume after the revision the watch was created at.
                        if s.nextRevision == 0 { s.nextRevision = header.revision + 1 }
                        return .none
                    }
                    if let last = events.last {
                        s.nextRevision = last.kv.modRevision + 1
                        return .deliver(WatchResponse(header: header, events: events))
                    }
                    // Progress notification: nothing to resume past, but the caller may want it.
                    if s.nextRevision <= header.revision && s.nextRevision != 0 {
                        s.nextRevision = header.revision + 1
                    }
                    return .deliver(WatchResponse(header: header, events: []))
                }
            }
        } catch {
            action = .end(.malformedResponse("WatchResponse"))
        }
        switch action {
        case .none: break
        case .deliver(let response): continuation.yield(response)
        case .end(let error):
            let call = state.withLock { s -> ClientCall? in
                s.finished = true
                s.terminalError = error
                return s.call
            }
            call?.cancel()
        }
    }

    private func finish(throwing error: Error?) {
        continuation.finish(throwing: error)
    }
}

extension EtcdRequestEncoding {
    /// A packed WatchRequest creating a watcher on `key` with `options`.
    public static func watchCreate(key: [UInt8], options: WatchOptions) -> [UInt8] {
        let b = MessageBuilder()
        let create = b.message(etcdserverpb__watch_create_request__init)
        create.pointee.key = b.binary(key)
        create.pointee.range_end = b.binary(options.rangeEnd)
        create.pointee.start_revision = options.startRevision
        create.pointee.prev_kv = options.prevKV ? 1 : 0
        create.pointee.progress_notify = options.progressNotify ? 1 : 0
        var filters: [Etcdserverpb__WatchCreateRequest__FilterType] = []
        if options.filterPuts { filters.append(ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT) }
        if options.filterDeletes { filters.append(ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE) }
        if !filters.isEmpty {
            let array = b.allocate(Etcdserverpb__WatchCreateRequest__FilterType.self, count: filters.count)
            for (i, f) in filters.enumerated() { array[i] = f }
            create.pointee.n_filters = filters.count
            create.pointee.filters = array
        }
        let request = b.message(etcdserverpb__watch_request__init)
        request.pointee.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST
        request.pointee.create_request = create
        return Proto.pack(request)
    }
}
