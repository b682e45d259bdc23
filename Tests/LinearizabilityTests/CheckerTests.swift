import Testing
@testable import Linearizability

@Suite struct CheckerTests {
    @Test func moduleLinks() { _ = Linearizability.self }
}
