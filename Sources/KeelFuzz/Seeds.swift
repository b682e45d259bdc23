// `keel-fuzz seeds DIR`: writes the seed corpora committed under fuzz/corpus (regenerate after a
// format change). Each seed is a valid input, so the fuzzer starts from the parsers' deep paths.
import Foundation
import Gateway
import Raft
import WAL

enum Seeds {
    static func write(to root: String) throws {
        func put(_ target: String, _ name: String, _ bytes: [UInt8]) throws {
            let dir = root + "/" + target
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }

        // WAL segments and a snapshot file, written by the real code.
        let scratch = NSTemporaryDirectory() + "keel-fuzz-seeds-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let wal = try WAL.create(directory: scratch + "/wal", metadata: Array("seed".utf8),
                                 options: WALOptions(segmentSize: 4096, preallocate: false))
        for i in UInt64(1)...12 {
            try wal.save(entries: [WALEntry(term: 1 + i / 6, index: i, kind: UInt8(i % 3), data: Array(repeating: UInt8(i), count: Int(i) * 40))],
                         hardState: WALHardState(term: 1 + i / 6, vote: 1, commit: i - 1))
            if i == 8 { try wal.saveSnapshotMark(WALSnapshotMark(index: 6, term: 2)) }
        }
        try wal.close()
        for (n, name) in try FileManager.default.contentsOfDirectory(atPath: scratch + "/wal").sorted().enumerated() where name.hasSuffix(".wal") {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch + "/wal/" + name)))
            try put("wal-segment", "segment-\(n)", bytes)
        }
        let snap = try SnapshotFile.save(directory: scratch + "/snap", index: 1, term: 1, data: Array("membership".utf8))
        try put("snapshot", "snapshot-1-1", [UInt8](try Data(contentsOf: URL(fileURLWithPath: snap))))

        // Raft messages as peers send them.
        let m = Message(type: .app, to: 2, from: 1, term: 3, logTerm: 2, index: 7,
                        entries: [Entry(term: 3, index: 8, type: .normal, data: Array("put".utf8)),
                                  Entry(term: 3, index: 9, type: .confChange, data: [1, 2])], commit: 6)
        try put("raft-message", "append", m.encoded())
        let v = Message(type: .vote, to: 1, from: 2, term: 9, logTerm: 3, index: 9, context: Array("CampaignTransfer".utf8))
        try put("raft-message", "vote", v.encoded())

        // Request bodies: the same documents as gateway JSON and, packed by our codec, as protobuf wire data.
        for (i, descriptor) in RequestDescriptors.all.enumerated() {
            let name = String(cString: descriptor.pointee.name)
            for (j, doc) in (["{}"] + (requestJSON[name] ?? [])).enumerated() {
                let selector = [UInt8(i)]
                try put("gateway-json", "\(name)-\(j)", selector + Array(doc.utf8))
                if let wire = try? ProtoJSON.wireBytes(json: Array(doc.utf8), descriptor: descriptor) {
                    try put("proto-request", "\(name)-\(j)", selector + wire)
                }
            }
        }

        // Client connections: h2c gRPC calls (one known method, one unknown) and HTTP/1.1 requests.
        try put("grpc-http2", "h2c-range", [0] + h2cCall(path: "/etcdserverpb.KV/Range", message: [0x0a, 0x03, 0x66, 0x6f, 0x6f]))
        try put("grpc-http2", "h2c-unknown", [7] + h2cCall(path: "/etcdserverpb.KV/Nope", message: []))
        try put("grpc-http2", "http1-post", [0] + Array("POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{\"key\":\"Zm9v\"}\n".utf8))
        try put("grpc-http2", "http1-get", [0] + Array("GET /version HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
    }

    static let requestJSON: [String: [String]] = [
        "etcdserverpb.RangeRequest": [#"{"key":"Zm9v","range_end":"Zm9w","limit":"10","revision":"3","sort_order":"DESCEND","sort_target":"MOD","serializable":true,"keys_only":true,"count_only":false,"min_mod_revision":"1"}"#],
        "etcdserverpb.PutRequest": [#"{"key":"Zm9v","value":"YmFy","lease":"7","prev_kv":true,"ignore_value":false}"#],
        "etcdserverpb.DeleteRangeRequest": [#"{"key":"Zm9v","range_end":"AA==","prev_kv":true}"#],
        "etcdserverpb.TxnRequest": [#"{"compare":[{"key":"Zm9v","target":"VALUE","result":"EQUAL","value":"YmFy"},{"key":"Zm9v","target":"MOD","result":"LESS","mod_revision":"9"}],"success":[{"request_put":{"key":"Zm9v","value":"YmF6"}}],"failure":[{"request_range":{"key":"Zm9v"}},{"request_txn":{"success":[{"request_delete_range":{"key":"Zm9v"}}]}}]}"#],
        "etcdserverpb.CompactionRequest": [#"{"revision":"5","physical":true}"#],
        "etcdserverpb.WatchRequest": [#"{"create_request":{"key":"Zm9v","range_end":"AA==","start_revision":"1","progress_notify":true,"filters":["NOPUT","NODELETE"],"prev_kv":true,"watch_id":"3","fragment":true}}"#,
                                      #"{"cancel_request":{"watch_id":"3"}}"#, #"{"progress_request":{}}"#],
        "etcdserverpb.LeaseGrantRequest": [#"{"TTL":"60","ID":"5"}"#],
        "etcdserverpb.LeaseKeepAliveRequest": [#"{"ID":"5"}"#],
        "etcdserverpb.MemberAddRequest": [#"{"peerURLs":["http://10.0.0.1:2380","http://10.0.0.2:2380"],"isLearner":true}"#],
        "etcdserverpb.AlarmRequest": [#"{"action":"DEACTIVATE","memberID":"1","alarm":"NOSPACE"}"#],
        "etcdserverpb.AuthUserAddRequest": [#"{"name":"root","password":"p\u00e9\n","options":{"no_password":false}}"#],
        "etcdserverpb.AuthRoleGrantPermissionRequest": [#"{"name":"r","perm":{"permType":"READWRITE","key":"Zm9v","range_end":"Zm9w"}}"#],
        "etcdserverpb.MoveLeaderRequest": [#"{"targetID":"18446744073709551615"}"#],
        "etcdserverpb.HashKVRequest": [#"{"revision":"-1"}"#],
    ]

    /// Client preface, SETTINGS, a HEADERS frame (HPACK literals, no Huffman) and a DATA frame with one
    /// gRPC message, END_STREAM.
    static func h2cCall(path: String, message: [UInt8]) -> [UInt8] {
        func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
            let n = payload.count
            return [UInt8(n >> 16), UInt8(n >> 8 & 255), UInt8(n & 255), type, flags,
                    UInt8(stream >> 24), UInt8(stream >> 16 & 255), UInt8(stream >> 8 & 255), UInt8(stream & 255)] + payload
        }
        func literal(_ name: String, _ value: String) -> [UInt8] {
            [0x00, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
        }
        let headers = literal(":method", "POST") + literal(":scheme", "http") + literal(":path", path)
            + literal(":authority", "localhost") + literal("content-type", "application/grpc") + literal("te", "trailers")
        let grpc = [0, 0, 0, 0, UInt8(message.count)] + message
        return Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + frame(4, 0, 0, []) + frame(1, 4, 1, headers) + frame(0, 1, 1, grpc)
    }
}
