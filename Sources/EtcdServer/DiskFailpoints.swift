import WAL

/// KEEL_FAILPOINTS (test builds of clusters: disk errors on the WAL and snapshot files), checked at
/// start so a typo stops the binary instead of silently testing nothing.
public enum DiskFailpoints {
    public enum Check: Sendable, Equatable {
        case unset
        case active(String)
        case invalid(String)
    }

    public static func check(environment: [String: String]) -> Check {
        guard let text = environment[Failpoints.environmentVariable] else { return .unset }
        switch Failpoints.parse(text) {
        case .success: return .active("\(Failpoints.environmentVariable)=\(text): disk failpoints are active (a test setting)")
        case .failure(let e): return .invalid(e.description)
        }
    }
}
