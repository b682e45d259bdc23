import Testing
@testable import Gateway

@Suite struct ProtoJSONTests {
    @Test func moduleLinks() { _ = ProtoJSON.self }
}
