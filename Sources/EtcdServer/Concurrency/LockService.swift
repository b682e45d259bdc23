import CProtobufC
import EtcdProto
import MVCC
import NIOCore
import RPC

/// v3lockpb.Lock, as etcd's v3lock serves it with concurrency.Mutex: the lock `name` is held by the
/// oldest key under "name/"; a caller's key is "name/<lease in hex>", attached to its lease (so the lock
/// is released when the lease ends), and Lock answers once every older key is gone.
struct LockService: Sendable {
    let kv: LocalKV
    /// etcd's concurrency.NewSession default, for a Lock that names no lease.
    static let defaultSessionTTL: Int64 = 60

    /// This service acting for the call's caller: its txns and reads are checked as the caller's would be.
    private func forCaller(_ call: ServerCall, _ body: @escaping @Sendable (LockService) -> Void) {
        guard let kv = kv.acting(for: call, retry: { forCaller(call, body) }) else { return }
        body(LockService(kv: kv))
    }

    func register(into grpc: inout GRPCServer) {
        grpc.register("/v3lockpb.Lock/Lock", .unary { call, request in forCaller(call) { $0.lock(call, request) } })
        grpc.register("/v3lockpb.Lock/Unlock", .unary { call, request in forCaller(call) { $0.unlock(call, request) } })
    }

    func lock(_ call: ServerCall, _ request: ByteBuffer) {
        let (name, lease): ([UInt8], Int64)
        do {
            (name, lease) = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(V3lockpb__LockRequest.self, Descriptors.shared.lockRequest, raw) { m in
                    (ProtoBytes.copy(m.pointee.name), m.pointee.lease)
                }
            }
        } catch {
            return call.fail(error)
        }
        guard lease == 0 else { return acquire(call, name: name, lease: lease) }
        kv.grantLease(ttl: Self.defaultSessionTTL, on: call.eventLoop) { result in
            switch result {
            case .success(let id): acquire(call, name: name, lease: id)
            case .failure(let e): call.fail(clientError(e))
            }
        }
    }

    /// etcd's Mutex.Lock: create our key unless it exists, then wait for every older one to go.
    private func acquire(_ call: ServerCall, name: [UInt8], lease: Int64) {
        let kv = self.kv
        let prefix = name + Array("/".utf8)
        let myKey = prefix + Array(String(UInt64(bitPattern: lease), radix: 16).utf8)
        let txn = TxnRequest(
            compare: [Compare(result: .equal, target: .create, key: myKey, createRevision: 0)],
            success: [.put(PutRequest(key: myKey, value: [], lease: lease)), .range(LocalKV.firstCreatedRequest(prefix))],
            failure: [.range(RangeRequest(key: myKey)), .range(LocalKV.firstCreatedRequest(prefix))])
        kv.txn(txn, on: call.eventLoop) { result in
            guard case .success(let (response, revision)) = result else {
                if case .failure(let e) = result { call.fail(clientError(e)) }
                return
            }
            var myRevision = revision
            if !response.succeeded, case .range(let mine) = response.responses.first, let kv = mine.kvs.first {
                myRevision = kv.createRevision
            }
            guard case .range(let owners) = response.responses.last else { return call.fail(.timeout) }
            if owners.kvs.isEmpty || owners.kvs[0].createRevision == myRevision {
                return Self.respondLocked(call, key: myKey, revision: revision, context: kv.context)
            }
            let waiter = DeleteWaiter(kv: kv, prefix: prefix, revision: myRevision - 1, on: call.eventLoop) { waited in
                switch waited {
                case .success: Self.respondLocked(call, key: myKey, revision: kv.context.store.currentRevision, context: kv.context)
                case .failure(let e):
                    kv.delete(myKey, on: call.eventLoop) { _ in }  // etcd releases the key when the wait fails
                    call.fail(clientError(e))
                }
            }
            // A caller that gives up (cancel, deadline, lost connection) leaves the queue: etcd unlocks then.
            call.onCancel {
                waiter.cancel()
                kv.delete(myKey, on: call.eventLoop) { _ in }
            }
        }
    }

    private static func respondLocked(_ call: ServerCall, key: [UInt8], revision: Int64, context: ServerContext) {
        call.respond { b in
            let m = b.arena.message(v3lockpb__lock_response__init)
            m.pointee.header = b.header(context.header(revision: revision))
            m.pointee.key = b.arena.binary(key)
            return m
        }
    }

    func unlock(_ call: ServerCall, _ request: ByteBuffer) {
        let context = kv.context
        let key: [UInt8]
        do {
            key = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(V3lockpb__UnlockRequest.self, Descriptors.shared.unlockRequest, raw) { ProtoBytes.copy($0.pointee.key) }
            }
        } catch {
            return call.fail(error)
        }
        kv.delete(key, on: call.eventLoop) { result in
            respondWithHeader(call, result, context: context, v3lockpb__unlock_response__init, header: \.header)
        }
    }
}
