import Testing

/// The comparison every side-by-side test relies on must itself catch differences; a differ
/// that always said "equal" would turn the whole suite green.
@Suite struct JSONComparisonTests {
    private func diff(_ expected: String, _ actual: String) throws -> [String] {
        JSONComparison.differences(expected: try JSONComparison.parse(expected), actual: try JSONComparison.parse(actual))
    }

    @Test func perServerFieldsAreIgnoredButRevisionsAreNot() throws {
        let etcd = #"{"header":{"cluster_id":15118495548433857066,"member_id":1,"revision":3,"raft_term":2}}"#
        let sameRevision = #"{"header":{"cluster_id":7,"member_id":9,"revision":3,"raft_term":5}}"#
        let otherRevision = #"{"header":{"cluster_id":7,"member_id":9,"revision":4,"raft_term":2}}"#
        #expect(try diff(etcd, sameRevision).isEmpty)
        #expect(try diff(etcd, otherRevision) == ["$.header.revision: expected=3 actual=4"])
    }

    @Test func missingFieldsElementsAndTypesAreReported() throws {
        let expected = #"{"kvs":[{"key":"YQ==","version":1}],"count":1,"more":true}"#
        let actual = #"{"kvs":[{"key":"YQ==","version":"1"},{"key":"Yg=="}],"count":1}"#
        let found = try diff(expected, actual)
        #expect(found == [
            "$.kvs: expected 1 elements, actual 2",
            "$.kvs[0].version: expected=1 actual=\"1\"",
            "$.more: expected=true actual=<missing>",
        ], "\(found)")
    }

    @Test func outputsAreComparedLineByLine() {
        #expect(outputDifferences("{\"a\":1}\n{\"b\":2}\n", "{\"a\":1}\n{\"b\":2}\n", json: true).isEmpty)
        #expect(outputDifferences("{\"a\":1}\n", "{\"a\":1}\n{\"b\":2}\n", json: true) == ["expected 1 lines, actual 2"])
        #expect(outputDifferences("compacted revision 4\n", "compacted revision 5\n", json: true)
            == ["line 0: 'compacted revision 4' vs 'compacted revision 5'"])
        #expect(outputDifferences("OK\n", "OK\n", json: false).isEmpty)
    }
}
