import EtcdProto
import MVCC
import NIOCore
import RPC

/// Maintenance/Hash and Maintenance/HashKV, computed as etcd computes them, so `etcdctl endpoint hashkv`
/// can compare members: equal hashes at one revision mean equal histories.
struct HashService: Sendable {
    let context: ServerContext

    func register(into grpc: inout GRPCServer) {
        // etcd's authMaintenanceServer: both need the root role.
        grpc.register("/etcdserverpb.Maintenance/Hash", .unary { call, _ in
            context.auth.asAdmin(call, raft: context.raft, rawAuthErrors: true) { hash(call) }
        })
        grpc.register("/etcdserverpb.Maintenance/HashKV", .unary { call, request in
            context.auth.asAdmin(call, raft: context.raft, rawAuthErrors: true) { hashKV(call, request) }
        })
    }

    func hash(_ call: ServerCall) {
        let context = self.context
        do {
            let (hash, revision) = try context.store.hash()
            call.respond { builder in
                let m = builder.arena.message(etcdserverpb__hash_response__init)
                m.pointee.header = builder.header(context.header(revision: revision))
                m.pointee.hash = hash
                return m
            }
        } catch {
            call.fail(EtcdServerError(MVCCStore.mapError(error)))
        }
    }

    func hashKV(_ call: ServerCall, _ request: ByteBuffer) {
        let context = self.context
        do throws(EtcdServerError) {
            let revision = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__HashKVRequest.self, Descriptors.shared.hashKVRequest, raw) { $0.pointee.revision }
            }
            let result: (hash: UInt32, currentRevision: Int64, compactRevision: Int64)
            do { result = try context.store.hashByRev(revision) } catch let e as EtcdError {
                throw EtcdServerError(e)
            } catch {
                throw EtcdServerError(MVCCStore.mapError(error))
            }
            call.respond { builder in
                let m = builder.arena.message(etcdserverpb__hash_kvresponse__init)
                m.pointee.header = builder.header(context.header(revision: result.currentRevision))
                m.pointee.hash = result.hash
                m.pointee.compact_revision = result.compactRevision
                return m
            }
        } catch {
            call.fail(error)
        }
    }
}
