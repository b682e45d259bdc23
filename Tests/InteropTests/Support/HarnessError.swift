/// Failures of the test harness itself (as opposed to assertion failures about a server's answers).
enum HarnessError: Error, CustomStringConvertible {
    case system(String)
    case binaryMissing(String)
    case notReady(String)
    case timedOut(String)
    case badOutput(String)

    var description: String {
        switch self {
        case .system(let text): return "system error: \(text)"
        case .binaryMissing(let text): return "binary missing: \(text)"
        case .notReady(let text): return "server not ready: \(text)"
        case .timedOut(let text): return "timed out: \(text)"
        case .badOutput(let text): return "unexpected output: \(text)"
        }
    }
}
