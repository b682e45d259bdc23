import Testing
@testable import KeelConfig

/// Parses and expects `.run`; records an issue and returns nil otherwise.
func runConfig(_ args: [String], env: [String: String] = [:],
               sourceLocation: SourceLocation = #_sourceLocation) -> (config: ServerConfig, warnings: [String])? {
    switch ConfigParser.parse(arguments: args, environment: env) {
    case .run(let c, let w): return (c, w)
    case let other:
        Issue.record("expected .run, got \(other)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Parses and expects `.failure`; returns (message, exit code).
func failure(_ args: [String], env: [String: String] = [:],
             sourceLocation: SourceLocation = #_sourceLocation) -> (message: String, code: Int32)? {
    switch ConfigParser.parse(arguments: args, environment: env) {
    case .failure(let m, let code): return (m, code)
    case let other:
        Issue.record("expected .failure, got \(other)", sourceLocation: sourceLocation)
        return nil
    }
}

func urls(_ list: [EtcdURL]) -> [String] { list.map(\.canonical) }
