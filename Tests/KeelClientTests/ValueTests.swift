import KeelClient
import Testing

/// KeelClient's small value types, without a server.
@Suite struct ValueTests {
    @Test func endpointsParse() {
        #expect(Endpoint("127.0.0.1:2379") == Endpoint(host: "127.0.0.1", port: 2379))
        #expect(Endpoint("http://localhost:2379/") == Endpoint(host: "localhost", port: 2379))
        #expect(Endpoint("[::1]:2379") == Endpoint(host: "::1", port: 2379))
        #expect(Endpoint("[::1]:2379")?.description == "[::1]:2379")
        for bad in ["", "host", "host:", ":2379", "host:0", "host:65536", "host:x"] {
            #expect(Endpoint(bad) == nil, "\(bad)")
        }
    }

    /// etcd's GetPrefixRangeEnd: the last byte below 0xff incremented, 0xff bytes dropped, "\0" if all are 0xff.
    @Test func prefixRangeEnds() {
        #expect(prefixRangeEnd(Array("abc".utf8)) == Array("abd".utf8))
        #expect(prefixRangeEnd([0x61, 0xff]) == [0x62])
        #expect(prefixRangeEnd([0xff, 0xff]) == [0])
        #expect(prefixRangeEnd([]) == [0])
    }

    @Test func badEndpointIsRefusedByTheClient() {
        #expect(throws: EtcdError.unavailable("bad endpoint 'nope'")) { try EtcdClient(endpoints: ["nope"]) }
        #expect(throws: EtcdError.unavailable("no endpoints given")) { try EtcdClient(endpoints: []) }
    }
}
