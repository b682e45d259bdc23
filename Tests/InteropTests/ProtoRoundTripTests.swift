import CProtobufC
import EtcdProto
import EtcdServer
import Testing

// The committed protoc-c code must produce exactly the bytes etcd's Go code produces. The
// expected bytes below are worked out by hand from the protobuf encoding rules (tag =
// field << 3 | wire type; varints little-endian base 128; int64 negatives as 10-byte varints;
// proto3 omits zero scalars but always writes a set oneof member; repeated enums are packed).

/// "0a 03 66" -> [0x0a, 0x03, 0x66]
private func hex(_ text: String) -> [UInt8] {
    text.split(separator: " ").map { UInt8($0, radix: 16)! }
}

private func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Whether `bytes` decode as the message `initialize` belongs to (the decoded tree is freed).
private func decodes<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void, _ bytes: [UInt8]) -> Bool {
    UnpackedMessage(initialize, bytes: bytes) != nil
}

@Suite struct ProtoWireBytesTests {
    @Test func putRequestPacksLikeEtcdAndRoundTrips() {
        let arena = ProtoArena()
        var request = Etcdserverpb__PutRequest()
        etcdserverpb__put_request__init(&request)
        request.key = arena.binary(utf8("foo"))
        request.value = arena.binary(utf8("bar"))
        request.lease = 300
        request.prev_kv = 1

        // Through the generated functions directly: they and ProtoCodec must agree.
        let size = etcdserverpb__put_request__get_packed_size(&request)
        var direct = [UInt8](repeating: 0, count: size)
        #expect(etcdserverpb__put_request__pack(&request, &direct) == size)

        let expected = hex("0a 03 66 6f 6f 12 03 62 61 72 18 ac 02 20 01")
        #expect(direct == expected)
        #expect(ProtoCodec.packed(&request) == expected)

        guard let decoded = UnpackedMessage(etcdserverpb__put_request__init, bytes: expected) else {
            Issue.record("valid PutRequest did not unpack")
            return
        }
        #expect(ProtoBytes.copy(decoded.message.key) == utf8("foo"))
        #expect(ProtoBytes.equals(decoded.message.value, utf8("bar")))
        #expect(decoded.message.lease == 300)
        #expect(decoded.message.prev_kv == 1)
        #expect(decoded.message.ignore_value == 0)
    }

    @Test func rangeRequestEnumsNegativeInt64AndHighFieldNumbers() {
        let arena = ProtoArena()
        var request = Etcdserverpb__RangeRequest()
        etcdserverpb__range_request__init(&request)
        request.key = arena.binary(utf8("a"))
        request.range_end = arena.binary(utf8("b"))
        request.limit = 10
        request.revision = -1
        request.sort_order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__DESCEND
        request.sort_target = ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__MOD
        request.serializable = 1
        request.max_create_revision = 5

        #expect(ProtoCodec.packed(&request) == hex(
            "0a 01 61 12 01 62 18 0a 20 ff ff ff ff ff ff ff ff ff 01 28 02 30 03 38 01 68 05"))
    }

    @Test func rangeResponseNestedAndRepeatedMessagesBuiltInAnArena() {
        let arena = ProtoArena()
        let header = arena.message(etcdserverpb__response_header__init)
        header.pointee.cluster_id = 1
        header.pointee.member_id = 2
        header.pointee.revision = 3
        header.pointee.raft_term = 4

        let kv = arena.message(mvccpb__key_value__init)
        kv.pointee.key = arena.binary(utf8("k"))
        kv.pointee.create_revision = 5
        kv.pointee.mod_revision = 6
        kv.pointee.version = 1
        kv.pointee.value = arena.binary(utf8("v"))

        let kvs = arena.pointerArray(of: Mvccpb__KeyValue.self, count: 1)
        kvs[0] = kv
        var response = Etcdserverpb__RangeResponse()
        etcdserverpb__range_response__init(&response)
        response.header = header
        response.n_kvs = 1
        response.kvs = kvs
        response.count = 1

        let expected = hex("0a 08 08 01 10 02 18 03 20 04 12 0c 0a 01 6b 10 05 18 06 20 01 2a 01 76 20 01")
        #expect(ProtoCodec.packed(&response) == expected)

        guard let decoded = UnpackedMessage(etcdserverpb__range_response__init, bytes: expected) else {
            Issue.record("valid RangeResponse did not unpack")
            return
        }
        #expect(decoded.message.header.pointee.revision == 3)
        let items = ProtoRepeated.messages(decoded.message.kvs, count: decoded.message.n_kvs)
        #expect(items.count == 1)
        #expect((items.first??.pointee.key).map(ProtoBytes.copy) == utf8("k"))
        #expect((items.first??.pointee.value).map(ProtoBytes.copy) == utf8("v"))
        #expect(items.first??.pointee.mod_revision == 6)
        #expect(decoded.message.count == 1)
    }

    @Test func watchCreateOneofAndPackedFilters() {
        let arena = ProtoArena()
        let create = arena.message(etcdserverpb__watch_create_request__init)
        create.pointee.key = arena.binary(utf8("k"))
        let filters = arena.allocate(Etcdserverpb__WatchCreateRequest__FilterType.self, count: 2)
        filters[0] = ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT
        filters[1] = ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE
        create.pointee.n_filters = 2
        create.pointee.filters = filters

        var request = Etcdserverpb__WatchRequest()
        etcdserverpb__watch_request__init(&request)
        request.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST
        request.create_request = create

        let expected = hex("0a 07 0a 01 6b 2a 02 00 01")
        #expect(ProtoCodec.packed(&request) == expected)

        guard let decoded = UnpackedMessage(etcdserverpb__watch_request__init, bytes: expected) else {
            Issue.record("valid WatchRequest did not unpack")
            return
        }
        #expect(decoded.message.request_union_case == ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST)
        #expect(decoded.message.create_request.pointee.n_filters == 2)
        #expect(decoded.message.create_request.pointee.filters[1] == ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE)

        // Unpacked (non-packed) repeated enums are accepted too, as every protobuf decoder must.
        let unpackedForm = hex("0a 07 0a 01 6b 28 00 28 01")
        let alternative = UnpackedMessage(etcdserverpb__watch_request__init, bytes: unpackedForm)
        let filterCount = alternative?.withMessage { $0.pointee.create_request.pointee.n_filters }
        #expect(filterCount == 2)
    }

    /// etcdctl's "key does not exist" guard is `version == 0`: the set oneof member must be
    /// written even though it is zero, and field 64 needs a two-byte tag.
    @Test func compareWritesZeroOneofMemberAndFieldSixtyFour() {
        let arena = ProtoArena()
        var compare = Etcdserverpb__Compare()
        etcdserverpb__compare__init(&compare)
        compare.key = arena.binary(utf8("k"))
        compare.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION
        compare.version = 0
        compare.range_end = arena.binary([0])
        let expected = hex("1a 01 6b 20 00 82 04 01 00")
        #expect(ProtoCodec.packed(&compare) == expected)

        guard let decoded = UnpackedMessage(etcdserverpb__compare__init, bytes: expected) else {
            Issue.record("valid Compare did not unpack")
            return
        }
        #expect(decoded.message.target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION)
        #expect(decoded.message.version == 0)
        #expect(ProtoBytes.copy(decoded.message.range_end) == [0])

        var byValue = Etcdserverpb__Compare()
        etcdserverpb__compare__init(&byValue)
        byValue.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE
        byValue.key = arena.binary(utf8("k"))
        byValue.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE
        byValue.value = arena.binary(utf8("v"))
        #expect(ProtoCodec.packed(&byValue) == hex("10 03 1a 01 6b 3a 01 76"))
    }

    @Test func emptyMessagesPackToNothingAndUnpackFromNothing() {
        var status = Etcdserverpb__StatusRequest()
        etcdserverpb__status_request__init(&status)
        #expect(ProtoCodec.packedSize(&status) == 0)
        #expect(ProtoCodec.packed(&status) == [])
        #expect(decodes(etcdserverpb__status_request__init, []))
    }

    @Test func malformedInputUnpacksToNil() {
        let put = ProtoCodec.descriptor(of: etcdserverpb__put_request__init)
        // Length says 5 bytes, 1 follows.
        #expect(ProtoCodec.unpack(Etcdserverpb__PutRequest.self, descriptor: put, bytes: hex("0a 05 66")) == nil)
        // A varint that never ends.
        #expect(ProtoCodec.unpack(Etcdserverpb__PutRequest.self, descriptor: put, bytes: hex("18 ff ff")) == nil)
        // Wire type 7 does not exist.
        #expect(ProtoCodec.unpack(Etcdserverpb__PutRequest.self, descriptor: put, bytes: hex("0f 00")) == nil)
        #expect(!decodes(etcdserverpb__range_response__init, hex("0a 08 08 01")))
    }

    @Test func internalRequestCarriesOneRequestWithItsId() {
        let arena = ProtoArena()
        let put = arena.message(etcdserverpb__put_request__init)
        put.pointee.key = arena.binary(utf8("foo"))
        put.pointee.value = arena.binary(utf8("bar"))
        let header = arena.message(keelpb__request_header__init)
        header.pointee.username = arena.cString("root")

        var request = Keelpb__InternalRequest()
        keelpb__internal_request__init(&request)
        request.id = 42
        request.header = header
        request.request_case = KEELPB__INTERNAL_REQUEST__REQUEST_PUT
        request.put = put

        // ID = 1 varint; put = 4 (len 10); header = 100 -> tag a2 06, username = 2 "root".
        let expected = hex("08 2a 22 0a 0a 03 66 6f 6f 12 03 62 61 72 a2 06 06 12 04 72 6f 6f 74")
        let bytes = ProtoCodec.packed(&request)
        #expect(bytes == expected)

        guard let decoded = UnpackedMessage(keelpb__internal_request__init, bytes: bytes) else {
            Issue.record("InternalRequest did not unpack")
            return
        }
        #expect(decoded.message.id == 42)
        #expect(decoded.message.request_case == KEELPB__INTERNAL_REQUEST__REQUEST_PUT)
        #expect(ProtoBytes.copy(decoded.message.put.pointee.key) == utf8("foo"))
        #expect(String(cString: decoded.message.header.pointee.username) == "root")
    }
}

@Suite struct ProtoHelperTests {
    @Test func appendPacksAfterAPrefixAndReusesTheBuffer() {
        let arena = ProtoArena()
        var request = Etcdserverpb__PutRequest()
        etcdserverpb__put_request__init(&request)
        request.key = arena.binary(utf8("foo"))

        var frame: [UInt8] = [0, 0, 0, 0, 5] // a gRPC length prefix
        #expect(ProtoCodec.append(&request, to: &frame) == 5)
        #expect(frame == hex("00 00 00 00 05 0a 03 66 6f 6f"))
    }

    @Test func binaryDataConversions() {
        let arena = ProtoArena()
        let empty = arena.binary([UInt8]())
        #expect(empty.len == 0 && empty.data == nil)
        #expect(ProtoBytes.copy(empty) == [])
        #expect(ProtoBytes.equals(empty, [UInt8]()))

        let source: [UInt8] = [0, 1, 2, 255]
        let copy = arena.binary(source[1...])
        #expect(ProtoBytes.copy(copy) == [1, 2, 255])
        #expect(ProtoBytes.withUnsafeBytes(copy) { $0.count } == 3)
        #expect(!ProtoBytes.equals(copy, [1, 2]))

        let name = arena.cString("héllo")
        #expect(String(cString: name) == "héllo")
        #expect(String(cString: arena.cString("")) == "")
    }

    @Test func arenaAlignsBumpsAndResetsWithinItsLimit() {
        let arena = ProtoArena(chunkBytes: 1024, limitBytes: 64 * 1024)
        var previous: UnsafeMutableRawPointer? = nil
        for _ in 0..<100 {
            let value = arena.allocate(Int64.self)
            #expect(Int(bitPattern: value) % MemoryLayout<Int64>.alignment == 0)
            #expect(value.pointee == 0) // zeroed
            value.pointee = -1
            if let previous { #expect(UnsafeMutableRawPointer(value) != previous) }
            previous = UnsafeMutableRawPointer(value)
            _ = arena.allocate(UInt8.self, count: 3) // knocks the cursor off alignment
        }
        // 100 × (8 + 3 + padding) bytes fit in 2 chunks of 1 KiB.
        #expect(arena.heldBytes == 2 * 1024)

        let big = arena.allocate(UInt8.self, count: 4000) // beyond chunk/4: a block of its own
        big[3999] = 7
        #expect(arena.heldBytes == 2 * 1024 + 4000)

        arena.reset()
        #expect(arena.heldBytes == 1024)
        #expect(arena.allocate(Int64.self).pointee == 0) // the kept chunk was zeroed again
    }

    @Test func arenaNeverKeepsABigBlockAcrossReset() {
        let arena = ProtoArena(chunkBytes: 1024, limitBytes: 1 << 20)
        let big = arena.allocate(UInt8.self, count: 100_000) // first allocation is a big one
        big[99_999] = 1
        #expect(arena.heldBytes == 1024 + 100_000)
        arena.reset()
        #expect(arena.heldBytes == 1024)
        let small = arena.allocate(UInt32.self, count: 4)
        #expect(small[3] == 0)
    }

    @Test func arenaBuildsTheSameBytesAfterReset() {
        let arena = ProtoArena(chunkBytes: 4096, limitBytes: 1 << 20)
        var first: [UInt8] = []
        for round in 0..<3 {
            arena.reset()
            let kv = arena.message(mvccpb__key_value__init)
            kv.pointee.key = arena.binary(utf8("key"))
            kv.pointee.value = arena.binary([UInt8](repeating: 0xab, count: 200))
            kv.pointee.mod_revision = 9
            let bytes = ProtoCodec.packed(UnsafePointer(kv))
            if round == 0 { first = bytes } else { #expect(bytes == first) }
        }
        #expect(arena.heldBytes == 4096) // steady state: only the kept chunk
    }

    @Test func descriptorComesFromTheGeneratedGlobal() {
        let descriptor = ProtoCodec.descriptor(of: etcdserverpb__put_request__init)
        #expect(String(cString: descriptor.pointee.name) == "etcdserverpb.PutRequest")
        #expect(descriptor.pointee.n_fields == 6)
        let internalRequest = ProtoCodec.descriptor(of: keelpb__internal_request__init)
        #expect(String(cString: internalRequest.pointee.name) == "keelpb.InternalRequest")
    }
}
