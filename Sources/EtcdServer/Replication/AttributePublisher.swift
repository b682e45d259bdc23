import CProtobufC
import Foundation
import EtcdProto
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Publishes this member's name and client URLs through Raft at start-up, retrying until it is applied
/// (etcd's publish loop). Only then is the member "ready to serve client requests": scripts and etcd's
/// own tests wait for these two lines, and a member that logs them has a leader and is in the cluster.
final class AttributePublisher: @unchecked Sendable {  // `context` is set once before `start`
    private let memberID: UInt64
    private let logger: Logger
    var context: ServerContext?
    private let state = NIOLockedValueBox<(task: RepeatedTask?, done: Bool)>((nil, false))

    init(memberID: UInt64, logger: Logger) {
        self.memberID = memberID
        self.logger = logger
    }

    func start(name: String, clientURLs: [String], eventLoop: EventLoop) {
        guard let context else { return }
        let task = eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(100)) { [self] task in
            if state.withLockedValue({ $0.done }) { return task.cancel() }
            let id = context.nextRequestID()
            let bytes = MemberRequests.attributes(memberID: memberID, name: name, clientURLs: clientURLs, requestID: id)
            _ = context.raft.propose(bytes, id: id) { _ in }
        }
        state.withLockedValue { $0.task = task }
    }

    /// The applier saw our attributes applied.
    func applied() {
        let first: Bool = state.withLockedValue { s in
            defer { s.done = true }
            s.task?.cancel()
            return !s.done
        }
        guard first, let context else { return }
        logger.info("published local member to cluster", metadata: [
            "local-member-id": "\(hex(memberID))", "cluster-id": "\(hex(context.clusterID))"])
        logger.info("enabled capabilities for version", metadata: ["cluster-version": "3.4"])
        logger.info("ready to serve client requests")
    }

    func cancel() {
        state.withLockedValue { $0.task?.cancel() }
    }
}

/// Log entries for member changes that are not Raft conf changes (keelpb/internal.proto).
enum MemberRequests {
    static func attributes(memberID: UInt64, name: String, clientURLs: [String], requestID: UInt64) -> [UInt8] {
        var attrs = Keelpb__MemberAttributesRequest()
        keelpb__member_attributes_request__init(&attrs)
        attrs.member_id = memberID
        return withCStrings([name] + clientURLs) { strings in
            attrs.name = strings[0]
            attrs.n_client_urls = strings.count - 1
            attrs.client_urls = strings.count > 1 ? strings.baseAddress! + 1 : nil
            return withUnsafeMutablePointer(to: &attrs) { a in
                internalRequest(requestID) { req in
                    req.request_case = KEELPB__INTERNAL_REQUEST__REQUEST_MEMBER_ATTRIBUTES
                    req.member_attributes = a
                }
            }
        }
    }

    static func peerURLs(memberID: UInt64, peerURLs: [String], requestID: UInt64) -> [UInt8] {
        var update = Keelpb__MemberPeerURLsRequest()
        keelpb__member_peer_urls_request__init(&update)
        update.member_id = memberID
        return withCStrings(peerURLs) { strings in
            update.n_peer_urls = strings.count
            update.peer_urls = strings.baseAddress
            return withUnsafeMutablePointer(to: &update) { u in
                internalRequest(requestID) { req in
                    req.request_case = KEELPB__INTERNAL_REQUEST__REQUEST_MEMBER_PEER_URLS
                    req.member_peer_urls = u
                }
            }
        }
    }

    private static func internalRequest(_ id: UInt64, _ fill: (inout Keelpb__InternalRequest) -> Void) -> [UInt8] {
        var req = Keelpb__InternalRequest()
        keelpb__internal_request__init(&req)
        req.id = id
        fill(&req)
        return ProtoCodec.packed(&req)
    }

    /// C copies of `values`, alive for `body`.
    private static func withCStrings<R>(_ values: [String], _ body: (UnsafeMutableBufferPointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = values.map { strdup($0) }
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeMutableBufferPointer { body($0) }
    }
}
