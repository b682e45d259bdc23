import CProtobufC
import EtcdProto
import Testing
@testable import Gateway
#if canImport(Glibc)
import Glibc
#endif

/// Iterations of the fuzz tests; raise with GATEWAY_FUZZ_ITERATIONS for a long local run.
let fuzzIterations = getenv("GATEWAY_FUZZ_ITERATIONS").flatMap { Int(String(cString: $0)) } ?? 6_000

/// Descriptors resolved once through the generated initialisers (C globals must not be copied).
struct D: @unchecked Sendable {  // pointers to immutable static C data
    let rangeRequest = ProtoJSON.descriptor(of: etcdserverpb__range_request__init)
    let rangeResponse = ProtoJSON.descriptor(of: etcdserverpb__range_response__init)
    let putRequest = ProtoJSON.descriptor(of: etcdserverpb__put_request__init)
    let putResponse = ProtoJSON.descriptor(of: etcdserverpb__put_response__init)
    let deleteRangeRequest = ProtoJSON.descriptor(of: etcdserverpb__delete_range_request__init)
    let deleteRangeResponse = ProtoJSON.descriptor(of: etcdserverpb__delete_range_response__init)
    let txnRequest = ProtoJSON.descriptor(of: etcdserverpb__txn_request__init)
    let txnResponse = ProtoJSON.descriptor(of: etcdserverpb__txn_response__init)
    let compactionRequest = ProtoJSON.descriptor(of: etcdserverpb__compaction_request__init)
    let compactionResponse = ProtoJSON.descriptor(of: etcdserverpb__compaction_response__init)
    let statusResponse = ProtoJSON.descriptor(of: etcdserverpb__status_response__init)
    let leaseGrantRequest = ProtoJSON.descriptor(of: etcdserverpb__lease_grant_request__init)
    let leaseGrantResponse = ProtoJSON.descriptor(of: etcdserverpb__lease_grant_response__init)
    let leaseTimeToLiveResponse = ProtoJSON.descriptor(of: etcdserverpb__lease_time_to_live_response__init)
    let authUserListResponse = ProtoJSON.descriptor(of: etcdserverpb__auth_user_list_response__init)
    let authRoleGetResponse = ProtoJSON.descriptor(of: etcdserverpb__auth_role_get_response__init)
    let authRoleGrantPermissionRequest = ProtoJSON.descriptor(of: etcdserverpb__auth_role_grant_permission_request__init)
    let memberListResponse = ProtoJSON.descriptor(of: etcdserverpb__member_list_response__init)
    let watchRequest = ProtoJSON.descriptor(of: etcdserverpb__watch_request__init)
    static let shared = D()
}
let d = D.shared

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }
func data(_ b: ProtobufCBinaryData) -> [UInt8] {
    b.len == 0 ? [] : Array(UnsafeBufferPointer(start: b.data, count: b.len))
}

func decode(_ json: String, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
            limits: ProtoJSONLimits = .default) throws(ProtoJSONError) -> OwnedMessage {
    try ProtoJSON.decode(json: bytes(json), into: descriptor, limits: limits)
}

/// decode then encode: the JSON etcd's gateway would print for the same message.
func reencode(_ json: String, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws -> String {
    let message = try decode(json, descriptor)
    return text(ProtoJSON.encode(message: message.pointer))
}

func decodeError(_ json: String, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                 limits: ProtoJSONLimits = .default) -> ProtoJSONError? {
    do { _ = try decode(json, descriptor, limits: limits); return nil } catch { return error }
}

@Suite struct ProtoJSONTests {
    // MARK: etcd-verified output
    //
    // Literal response bodies from etcd 3.4.23's gateway (`curl -X POST :2379/v3/...`). Each one is
    // decoded into its response message and encoded again: the codec must print etcd's exact bytes.

    static let etcdOutputs: [(String, String)] = [
        ("put", #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"2","raft_term":"2"}}"#),
        ("put prev_kv", #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"3","raft_term":"2"},"prev_kv":{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}}"#),
        ("range", #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"4","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmFy"}],"count":"1"}"#),
        ("range prefix", #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"4","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmFy"},{"key":"Zm9vMg==","create_revision":"4","mod_revision":"4","version":"1"}],"count":"2"}"#),
        ("range count_only", #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"4","raft_term":"2"},"count":"2"}"#),
        ("range limit more", #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"4","raft_term":"2"},"kvs":[{"key":"Zm9vMg==","create_revision":"4","mod_revision":"4","version":"1"}],"more":true,"count":"2"}"#),
        ("range empty", #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"4","raft_term":"2"}}"#),
        ("range lease", #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"7","raft_term":"2"},"kvs":[{"key":"/+8=","create_revision":"7","mod_revision":"7","version":"1","value":"AAEC/w==","lease":"7587"}],"count":"1"}"#),
    ]

    @Test(arguments: etcdOutputs)
    func rangeAndPutResponsesMatchEtcd(_ name: String, _ json: String) throws {
        let descriptor = name.hasPrefix("put") ? d.putResponse : d.rangeResponse
        #expect(try reencode(json, descriptor) == json, "\(name)")
    }

    @Test func txnResponsesMatchEtcd() throws {
        let literals = [
            #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"5","raft_term":"2"},"succeeded":true,"responses":[{"response_range":{"header":{"revision":"4"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmFy"}],"count":"1"}},{"response_put":{"header":{"revision":"5"}}}]}"#,
            #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"},"responses":[{"response_delete_range":{"header":{"revision":"6"},"deleted":"1","prev_kvs":[{"key":"Zm9vMg==","create_revision":"4","mod_revision":"4","version":"1"}]}}]}"#,
            // A nested txn: its empty header is present, so it prints as {}.
            #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"},"succeeded":true,"responses":[{"response_txn":{"header":{},"succeeded":true,"responses":[{"response_range":{"header":{"revision":"6"},"count":"1"}}]}}]}"#,
        ]
        for json in literals { #expect(try reencode(json, d.txnResponse) == json) }
    }

    @Test func otherResponsesMatchEtcd() throws {
        let cases: [(String, UnsafePointer<ProtobufCMessageDescriptor>)] = [
            (#"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"}}"#, d.deleteRangeResponse),
            (#"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"}}"#, d.compactionResponse),
            // Proto names that are not snake_case stay as declared (OrigName): dbSize, raftIndex.
            (#"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"},"version":"3.4.23","dbSize":"20480","leader":"13668033151171901709","raftIndex":"11","raftTerm":"2","raftAppliedIndex":"11","dbSizeInUse":"16384"}"#, d.statusResponse),
            (#"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"},"ID":"7587","TTL":"600"}"#, d.leaseGrantResponse),
            (#"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"},"ID":"7587","TTL":"599","grantedTTL":"600"}"#, d.leaseTimeToLiveResponse),
            // Go's HTML-safe escaping: < > & and U+2028 as \u escapes, é raw.
            (#"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"7","raft_term":"2"},"users":["a\u003cb\u003e\u0026c\u2028\"\\\n\u0001é"]}"#, d.authUserListResponse),
            // An enum printed by name (permType READWRITE = 2).
            (#"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"7","raft_term":"2"},"perm":[{"permType":"READWRITE","key":"YQ==","range_end":"Yg=="}]}"#, d.authRoleGetResponse),
            (#"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","raft_term":"2"},"members":[{"ID":"13668033151171901709","name":"default","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23791"]}]}"#, d.memberListResponse),
        ]
        for (json, descriptor) in cases { #expect(try reencode(json, descriptor) == json) }
    }

    /// The encoder checked on a struct built by hand, not through the decoder.
    @Test func encodesHandBuiltStruct() {
        var header = Etcdserverpb__ResponseHeader()
        etcdserverpb__response_header__init(&header)
        header.cluster_id = 15118495548433857066
        header.revision = 2
        var kv = Mvccpb__KeyValue()
        mvccpb__key_value__init(&kv)
        var key: [UInt8] = Array("foo".utf8)
        var response = Etcdserverpb__RangeResponse()
        etcdserverpb__range_response__init(&response)
        response.count = 1
        response.more = 1
        let json = withUnsafeMutablePointer(to: &header) { h in
            key.withUnsafeMutableBufferPointer { k in
                kv.key = ProtobufCBinaryData(len: k.count, data: k.baseAddress)
                kv.version = -1
                return withUnsafeMutablePointer(to: &kv) { kvp in
                    var list: [UnsafeMutablePointer<Mvccpb__KeyValue>?] = [kvp]
                    return list.withUnsafeMutableBufferPointer { l in
                        response.header = h
                        response.n_kvs = 1
                        response.kvs = l.baseAddress
                        return withUnsafePointer(to: &response) { r in
                            text(ProtoJSON.encode(message: UnsafeRawPointer(r).assumingMemoryBound(to: ProtobufCMessage.self)))
                        }
                    }
                }
            }
        }
        #expect(json == #"{"header":{"cluster_id":"15118495548433857066","revision":"2"},"kvs":[{"key":"Zm9v","version":"-1"}],"more":true,"count":"1"}"#)
    }

    // MARK: requests

    @Test func rangeRequestFields() throws {
        let m = try decode(#"{"key":"Zm9v","range_end":"Zm9w","limit":1,"revision":"-5","sort_order":"DESCEND","sortTarget":2,"keys_only":true,"countOnly":false,"max_mod_revision":"9223372036854775807"}"#, d.rangeRequest)
        let r = m.typed(Etcdserverpb__RangeRequest.self).pointee
        #expect(data(r.key) == bytes("foo"))
        #expect(data(r.range_end) == bytes("fop"))
        #expect(r.limit == 1 && r.revision == -5)
        #expect(r.sort_order == ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__DESCEND)
        #expect(r.sort_target.rawValue == 2)
        #expect(r.keys_only == 1 && r.count_only == 0)
        #expect(r.max_mod_revision == Int64.max)
        #expect(text(ProtoJSON.encode(message: m.pointer))
                == #"{"key":"Zm9v","range_end":"Zm9w","limit":"1","revision":"-5","sort_order":"DESCEND","sort_target":"CREATE","keys_only":true,"max_mod_revision":"9223372036854775807"}"#)
    }

    @Test func wireBytesAreCanonical() throws {
        #expect(try ProtoJSON.wireBytes(json: bytes(#"{"key":"Zm9v","limit":"300"}"#), descriptor: d.rangeRequest)
                == [0x0A, 3, 0x66, 0x6F, 0x6F, 0x18, 0xAC, 0x02])
        // int32 negatives are sign-extended to ten bytes; enum by number.
        #expect(try ProtoJSON.wireBytes(json: bytes(#"{"sort_order":-1}"#), descriptor: d.rangeRequest)
                == [0x28, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        // A nested message of 200 bytes gets a two-byte length.
        let value = String(repeating: "A", count: 264)   // 198 bytes
        let wire = try ProtoJSON.wireBytes(json: bytes(#"{"success":[{"request_put":{"value":"\#(value)"}}]}"#), descriptor: d.txnRequest)
        #expect(Array(wire.prefix(9)) == [0x12, 0xCC, 0x01, 0x12, 0xC9, 0x01, 0x12, 0xC6, 0x01])
        #expect(wire.count == 3 + 3 + 3 + 198)
    }

    @Test func putAndDeleteRoundTrip() throws {
        let put = #"{"key":"Zm9v","value":"YmFy","lease":"7587","prev_kv":true,"ignore_value":true,"ignore_lease":true}"#
        #expect(try reencode(put, d.putRequest) == put)
        #expect(try reencode(#"{"key":"Zm9v","value":"","lease":"0","prevKv":false}"#, d.putRequest) == #"{"key":"Zm9v"}"#)
        let del = #"{"key":"Zm9v","range_end":"AA==","prev_kv":true}"#
        #expect(try reencode(del, d.deleteRangeRequest) == del)
        #expect(try reencode(#"{"revision":"2","physical":true}"#, d.compactionRequest) == #"{"revision":"2","physical":true}"#)
        #expect(try reencode(#"{}"#, d.compactionRequest) == "{}")
        #expect(try reencode("", d.compactionRequest) == "{}")
        #expect(try reencode(" null ", d.compactionRequest) == "{}")
    }

    @Test func txnRequestOneofsAndEnums() throws {
        let json = #"{"compare":[{"result":"NOT_EQUAL","target":"VALUE","key":"Zm9v","range_end":"Zm9w","value":"YmFy"},{"target":"MOD","key":"YQ==","mod_revision":"0"}],"success":[{"requestRange":{"key":"Zm9v","limit":"1"}},{"request_put":{"key":"Zm9v","value":"YmF6"}},{"request_txn":{"failure":[{"request_delete_range":{"key":"eA=="}}]}}],"failure":[{"request_delete_range":{}}]}"#
        let m = try decode(json, d.txnRequest)
        let t = m.typed(Etcdserverpb__TxnRequest.self).pointee
        #expect(t.n_compare == 2 && t.n_success == 3 && t.n_failure == 1)
        let c0 = t.compare[0]!.pointee
        #expect(c0.result == ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL)
        #expect(c0.target == ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE)
        #expect(c0.target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE)
        #expect(data(c0.value) == bytes("bar") && data(c0.range_end) == bytes("fop"))
        // A oneof member set to zero is still set.
        #expect(t.compare[1]!.pointee.target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION)
        #expect(t.success[0]!.pointee.request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE)
        #expect(t.success[0]!.pointee.request_range.pointee.limit == 1)
        #expect(t.success[1]!.pointee.request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT)
        #expect(t.success[2]!.pointee.request_txn.pointee.n_failure == 1)
        #expect(t.failure[0]!.pointee.request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE)
        // Output: proto names, zero enums (EQUAL) omitted, the zero oneof member kept, {} kept.
        // range_end (64) follows the oneof: jsonpb's order is the Go struct's (declaration order),
        // which for etcd's protos is field-number order.
        #expect(text(ProtoJSON.encode(message: m.pointer)) == #"{"compare":[{"result":"NOT_EQUAL","target":"VALUE","key":"Zm9v","value":"YmFy","range_end":"Zm9w"},{"target":"MOD","key":"YQ==","mod_revision":"0"}],"success":[{"request_range":{"key":"Zm9v","limit":"1"}},{"request_put":{"key":"Zm9v","value":"YmF6"}},{"request_txn":{"failure":[{"request_delete_range":{"key":"eA=="}}]}}],"failure":[{"request_delete_range":{}}]}"#)
    }

    @Test func encodeFromPackedBytes() throws {
        let wire = try ProtoJSON.wireBytes(json: bytes(#"{"key":"Zm9v","sort_order":"ASCEND"}"#), descriptor: d.rangeRequest)
        #expect(text(try ProtoJSON.encode(bytes: wire, descriptor: d.rangeRequest)) == #"{"key":"Zm9v","sort_order":"ASCEND"}"#)
        #expect(throws: ProtoJSONError.self) { try ProtoJSON.encode(bytes: [0x0A, 0x05, 0x01], descriptor: d.rangeRequest) }
        #expect(text(try ProtoJSON.encode(bytes: [], descriptor: d.rangeRequest)) == "{}")
    }

    // MARK: lenient input

    @Test func inputForms() throws {
        // Integers as numbers or strings, enums by name or (undeclared) number, null as default.
        #expect(try reencode(#"{"limit":"12","revision":34,"sort_order":7,"key":null,"serializable":null}"#, d.rangeRequest)
                == #"{"limit":"12","revision":"34","sort_order":7}"#)
        // Base64: standard, URL-safe, with and without padding.
        for form in ["+/8=", "-_8=", "+/8", "-_8"] {
            #expect(try reencode(#"{"key":"\#(form)"}"#, d.rangeRequest) == #"{"key":"+/8="}"#)
        }
        #expect(try reencode(#"{"key":"Zg"}"#, d.rangeRequest) == #"{"key":"Zg=="}"#)
        // JSON escapes inside base64 and strings.
        #expect(try reencode(#"{"key":"Zm\u0039v"}"#, d.rangeRequest) == #"{"key":"Zm9v"}"#)
        // Unknown fields of every shape are skipped, nested ones included.
        #expect(try reencode(#"{"bogus":{"a":[1,2,{"b":null}],"c":"x\"y"},"key":"Zm9v","more":[[[]]],"n":-1.5e3,"t":true,"f":false,"z":null}"#, d.rangeRequest)
                == #"{"key":"Zm9v"}"#)
        // Keys spelled with escapes are matched after unescaping (as Go does).
        #expect(try reencode(#"{"key":"Zm9v","k\u0065y":"QQ==","\u006cimit":2}"#, d.rangeRequest) == #"{"key":"QQ==","limit":"2"}"#)
        // Whitespace everywhere.
        #expect(try reencode(" \n{ \"key\" :\t\"Zm9v\" , \"limit\" : 3 }\r\n", d.rangeRequest) == #"{"key":"Zm9v","limit":"3"}"#)
        // Duplicate keys: the last wins (as in etcd's gateway).
        #expect(try reencode(#"{"key":"Zm9v","key":"YmFy"}"#, d.rangeRequest) == #"{"key":"YmFy"}"#)
        // Integer bounds.
        #expect(try reencode(#"{"limit":"-9223372036854775808"}"#, d.rangeRequest) == #"{"limit":"-9223372036854775808"}"#)
        #expect(try reencode(#"{"header":{"cluster_id":"18446744073709551615","member_id":0}}"#, d.putResponse)
                == #"{"header":{"cluster_id":"18446744073709551615"}}"#)
        #expect(decodeError(#"{"ID":"18446744073709551615"}"#, d.leaseTimeToLiveResponse)?.kind == .value)  // int64
        #expect(decodeError(#"{"header":{"cluster_id":-1}}"#, d.putResponse)?.kind == .value)
        // Strings: escapes, surrogate pairs, lone surrogates as U+FFFD (Go's behaviour).
        #expect(try reencode(#"{"users":["\ud83d\ude00","\ud800x","\/\b\f"]}"#, d.authUserListResponse)
                == #"{"users":["😀","�x","/\u0008\u000c"]}"#)
        // Enum names on input as in etcd's docs.
        #expect(try reencode(#"{"name":"r","perm":{"permType":"WRITE","key":"YQ==","rangeEnd":"Yg=="}}"#, d.authRoleGrantPermissionRequest)
                == #"{"name":"r","perm":{"permType":"WRITE","key":"YQ==","range_end":"Yg=="}}"#)
    }

    // MARK: errors

    @Test func malformedInputIsRejectedWithPath() {
        func expectError(_ json: String, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                         _ kind: ProtoJSONError.Kind, path: String, contains fragment: String,
                         sourceLocation: SourceLocation = #_sourceLocation) {
            guard let e = decodeError(json, descriptor) else {
                Issue.record("accepted: \(json)", sourceLocation: sourceLocation); return
            }
            #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
            #expect(e.path == path, "\(e)", sourceLocation: sourceLocation)
            #expect(e.message.contains(fragment), "\(e)", sourceLocation: sourceLocation)
        }
        expectError(#"{"key":"Zm9v""#, d.rangeRequest, .syntax, path: "", contains: "unexpected end")
        expectError(#"{"key":"Zm9v" "limit":1}"#, d.rangeRequest, .syntax, path: "", contains: "after object key:value pair")
        expectError(#"{"key":"Zm9v"#, d.rangeRequest, .syntax, path: "key", contains: "unexpected end")
        expectError(#"{"key":"Zm9v",}"#, d.rangeRequest, .syntax, path: "", contains: "object key")
        expectError(#"{"key" "Zm9v"}"#, d.rangeRequest, .syntax, path: "", contains: "after object key")
        expectError(#"{"key":"Zm9v"} x"#, d.rangeRequest, .syntax, path: "", contains: "after top-level value")
        expectError(#"[]"#, d.rangeRequest, .type, path: "", contains: "expected an object")
        expectError(#"{"key":"Zm9v!"}"#, d.rangeRequest, .value, path: "key", contains: "invalid base64")
        expectError(#"{"key":"Zm9vY"}"#, d.rangeRequest, .value, path: "key", contains: "invalid base64")
        expectError(#"{"key":"Zm9v===="}"#, d.rangeRequest, .value, path: "key", contains: "invalid base64")
        expectError(#"{"key":3}"#, d.rangeRequest, .type, path: "key", contains: "base64 string")
        expectError(#"{"limit":"x"}"#, d.rangeRequest, .value, path: "limit", contains: "invalid integer")
        expectError(#"{"limit":1.5}"#, d.rangeRequest, .value, path: "limit", contains: "invalid integer")
        expectError(#"{"limit":1e2}"#, d.rangeRequest, .value, path: "limit", contains: "invalid integer")
        expectError(#"{"limit":"01"}"#, d.rangeRequest, .value, path: "limit", contains: "invalid integer")
        expectError(#"{"limit":" 1"}"#, d.rangeRequest, .value, path: "limit", contains: "invalid integer")
        expectError(#"{"limit":"9223372036854775808"}"#, d.rangeRequest, .value, path: "limit", contains: "out of range")
        expectError(#"{"limit":99999999999999999999999999999}"#, d.rangeRequest, .value, path: "limit", contains: "out of range")
        expectError(#"{"limit":true}"#, d.rangeRequest, .type, path: "limit", contains: "expected an integer")
        expectError(#"{"limit":-}"#, d.rangeRequest, .syntax, path: "limit", contains: "numeric literal")
        expectError(#"{"count_only":"true"}"#, d.rangeRequest, .type, path: "count_only", contains: "true or false")
        expectError(#"{"count_only":tru}"#, d.rangeRequest, .syntax, path: "count_only", contains: "literal")
        expectError(#"{"sort_order":"BOGUS"}"#, d.rangeRequest, .value, path: "sort_order",
                    contains: #"unknown value "BOGUS" for enum etcdserverpb.RangeRequest.SortOrder"#)
        expectError(#"{"sort_order":4294967296}"#, d.rangeRequest, .value, path: "sort_order", contains: "enum number")
        expectError(#"{"sort_order":1.5}"#, d.rangeRequest, .value, path: "sort_order", contains: "enum number")
        expectError(#"{"compare":[{"value":"%%"}]}"#, d.txnRequest, .value, path: "compare[0].value", contains: "invalid base64")
        expectError(#"{"success":[{},{"request_put":{"lease":"x"}}]}"#, d.txnRequest, .value, path: "success[1].request_put.lease", contains: "invalid integer")
        expectError(#"{"compare":{}}"#, d.txnRequest, .type, path: "compare", contains: "expected an array")
        expectError(#"{"compare":[null]}"#, d.txnRequest, .type, path: "compare[0]", contains: "null")
        expectError(#"{"compare":["x"]}"#, d.txnRequest, .type, path: "compare[0]", contains: "expected an object")
        expectError(#"{"compare":[{}}"#, d.txnRequest, .syntax, path: "compare", contains: "after array element")
        expectError(#"{"bogus":{"a":[1,}}"#, d.rangeRequest, .syntax, path: "bogus", contains: "beginning of value")
        expectError("{\"key\":\"a\u{01}\"}", d.rangeRequest, .syntax, path: "key", contains: "in string literal")
        expectError(#"{"key":"\x"}"#, d.rangeRequest, .syntax, path: "key", contains: "escape")
        expectError(#"{"key":"\u12G4"}"#, d.rangeRequest, .syntax, path: "key", contains: "hexadecimal")
        // The description names the field, for the gateway's 400 body.
        #expect(decodeError(#"{"value":"Zm9v!"}"#, d.putRequest)?.description == #""value": invalid base64: illegal character '!' at index 4 at byte 9"#)
    }

    @Test func limits() throws {
        let small = ProtoJSONLimits(maxBodyBytes: 64, maxDepth: 4, maxElements: 5)
        #expect(decodeError(String(repeating: " ", count: 65), d.rangeRequest, limits: small)?.kind == .limit)
        #expect(decodeError(#"{"a":{"b":{"c":{"d":{}}}}}"#, d.rangeRequest, limits: small)?.kind == .limit)
        #expect(decodeError(#"{"a":{"b":{"c":{"d":1}}}}"#, d.rangeRequest, limits: small) == nil)
        #expect(decodeError(#"{"a":[1,2,3,4,5]}"#, d.rangeRequest, limits: small)?.kind == .limit)
        #expect(decodeError(#"{"a":[1,2,3,4]}"#, d.rangeRequest, limits: small) == nil)
        // Known nested messages count too.
        #expect(decodeError(#"{"success":[{"request_txn":{"success":[{"request_txn":{}}]}}]}"#, d.txnRequest, limits: small)?.kind == .limit)
    }

    @Test func hostileInputs() throws {
        // 10k levels of nesting, in unknown and in known fields: a limit error, no stack overflow.
        let deep = String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect(decodeError(deep, d.rangeRequest)?.kind == .limit)
        let deepArrays = #"{"a":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(decodeError(deepArrays, d.rangeRequest)?.kind == .limit)
        let deepTxn = String(repeating: #"{"success":[{"request_txn":"#, count: 5_000) + "{}" + String(repeating: "}]}", count: 5_000)
        #expect(decodeError(deepTxn, d.txnRequest)?.kind == .limit)
        // Unterminated deep input.
        #expect(decodeError(String(repeating: "[", count: 100_000), d.rangeRequest) != nil)
        // A 1 MB value decodes; a 1 MB string where an integer belongs and a 1 MB number fail cleanly.
        let mb = String(repeating: "QUJD", count: 262_144)
        let big = try decode(#"{"key":"Zm9v","value":"\#(mb)"}"#, d.putRequest)
        #expect(big.typed(Etcdserverpb__PutRequest.self).pointee.value.len == 786_432)
        #expect(text(ProtoJSON.encode(message: big.pointer)) == #"{"key":"Zm9v","value":"\#(mb)"}"#)
        #expect(decodeError(#"{"lease":"\#(mb)"}"#, d.putRequest)?.kind == .value)
        #expect(decodeError(#"{"lease":\#(String(repeating: "9", count: 1 << 20))}"#, d.putRequest)?.kind == .value)
        #expect(decodeError(#"{"key":"\#(String(repeating: "x", count: 1 << 20))"#, d.putRequest)?.kind == .syntax)
        // Over the default body limit.
        let huge = #"{"value":"\#(String(repeating: "A", count: 5 << 20))"}"#
        #expect(decodeError(huge, d.putRequest)?.kind == .limit)
        // Truncations of a valid document at every byte: errors, never a crash.
        let valid = #"{"compare":[{"result":"EQUAL","target":"VALUE","key":"Zm9v","value":"YmFy"}],"success":[{"request_put":{"key":"Zm9v","value":"YmF6","lease":"1"}}]}"#
        let validBytes = bytes(valid)
        for n in 0..<validBytes.count {
            do { _ = try ProtoJSON.decode(json: Array(validBytes.prefix(n)), into: d.txnRequest); #expect(n == 0) } catch {}
        }
    }

    /// Seeded mutations of valid requests: any outcome but a crash; what decodes must re-encode and
    /// decode again to the same JSON.
    @Test func fuzzMutations() {
        let seeds: [(String, UnsafePointer<ProtobufCMessageDescriptor>)] = [
            (#"{"compare":[{"result":"GREATER","target":"VERSION","key":"Zm9v","version":"3"}],"success":[{"request_range":{"key":"Zm9v","range_end":"Zm9w","limit":"10","sort_order":"DESCEND"}},{"request_txn":{"failure":[{"request_delete_range":{"key":"YQ==","prev_kv":true}}]}}],"failure":[{"request_put":{"key":"Zm9v","value":"YmFy","lease":"7"}}]}"#, d.txnRequest),
            (#"{"key":"Zm9v","range_end":"AA==","limit":1,"revision":"-2","sort_order":2,"sortTarget":"VALUE","count_only":true,"x":[1,{"y":"\u00e9"}]}"#, d.rangeRequest),
            (#"{"create_request":{"key":"YQ==","filters":["NOPUT",1],"prev_kv":true,"start_revision":"5"}}"#, d.watchRequest),
        ]
        let alphabet = Array(#"{}[]":,\"0123456789-+.eE tfnu=/_AZaz"#.utf8) + [0, 0x80, 0xFF, 0xC3, 0x0A]
        var rng = SplitMix64(seed: 0x6B65656C)
        var accepted = 0
        for iteration in 0..<fuzzIterations {
            let (seed, descriptor) = seeds[iteration % seeds.count]
            var input = bytes(seed)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(input.count))
                switch rng.next() % 4 {
                case 0: input[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: input.remove(at: i)
                case 2: input.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                default:   // duplicate a slice (nesting, repetition)
                    let j = min(input.count, i + Int(rng.next() % 16))
                    input.insert(contentsOf: input[i..<j], at: i)
                }
                if input.isEmpty { input = [0x7B] }
            }
            guard let message = try? ProtoJSON.decode(json: input, into: descriptor) else { continue }
            accepted += 1
            let once = ProtoJSON.encode(message: message.pointer)
            let again = (try? ProtoJSON.decode(json: once, into: descriptor)).map { ProtoJSON.encode(message: $0.pointer) }
            #expect(again == once, "\(text(input))")
        }
        #expect(accepted > 100)
    }
}

extension ProtoJSONTests {
    /// Mutated protobuf bytes through encode(bytes:): protobuf-c rejects or builds a message, and the
    /// encoder reads whatever it built without crashing; what it prints decodes again.
    @Test func fuzzWireBytes() throws {
        let seed = try ProtoJSON.wireBytes(json: bytes(#"{"compare":[{"result":"LESS","target":"LEASE","key":"Zm9v","lease":"-3","range_end":"AA=="}],"success":[{"request_range":{"key":"Zm9v","limit":"10","sort_order":"DESCEND"}},{"request_txn":{"failure":[{"request_put":{"key":"YQ==","value":"YmFy","prev_kv":true}}]}}]}"#), descriptor: d.txnRequest)
        var rng = SplitMix64(seed: 42)
        var printed = 0
        for _ in 0..<fuzzIterations {
            var input = seed
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let i = Int(rng.next() % UInt64(input.count))
                switch rng.next() % 3 {
                case 0: input[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: input.remove(at: i)
                default: input.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                }
                if input.isEmpty { input = [0] }
            }
            guard let json = try? ProtoJSON.encode(bytes: input, descriptor: d.txnRequest) else { continue }
            printed += 1
            let again = try ProtoJSON.decode(json: json, into: d.txnRequest)
            #expect(ProtoJSON.encode(message: again.pointer) == json)
        }
        #expect(printed > 100)
    }

    @Test func depthIsCappedWhateverTheLimitSays() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let e = decodeError(#"{"a":\#(deep)}"#, d.rangeRequest, limits: ProtoJSONLimits(maxBodyBytes: 1 << 20, maxDepth: .max))
        #expect(e?.kind == .limit)
    }

    /// Not a pass/fail benchmark: prints rough costs (debug build numbers are pessimistic).
    @Test func roughTimings() throws {
        let clock = ContinuousClock()
        let request = bytes(#"{"compare":[{"target":"VALUE","result":"EQUAL","key":"Zm9v","value":"YmFy"}],"success":[{"request_range":{"key":"Zm9v"}},{"request_put":{"key":"Zm9v","value":"YmF6"}}],"failure":[{"request_delete_range":{"key":"Zm9v"}}]}"#)
        let n = 2_000
        let decodeTime = clock.measure {
            for _ in 0..<n { _ = try? ProtoJSON.decode(json: request, into: d.txnRequest) }
        }
        let message = try ProtoJSON.decode(json: request, into: d.txnRequest)
        let encodeTime = clock.measure {
            for _ in 0..<n { _ = ProtoJSON.encode(message: message.pointer) }
        }
        let mb = bytes(#"{"key":"Zm9v","value":"\#(String(repeating: "QUJD", count: 262_144))"}"#)
        let bigDecode = clock.measure { _ = try? ProtoJSON.decode(json: mb, into: d.putRequest) }
        let big = try ProtoJSON.decode(json: mb, into: d.putRequest)
        let bigEncode = clock.measure { _ = ProtoJSON.encode(message: big.pointer) }
        print("ProtoJSON: txn request decode \(decodeTime / n), encode \(encodeTime / n); 1 MiB put decode \(bigDecode), encode \(bigEncode)")
    }
}

/// A small deterministic generator (the test must be reproducible).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
