/// etcd's auto-compaction (compactor/periodic.go and revision.go) as pure logic: the server calls
/// `tick(now:currentRevision:)` from a timer and proposes a Compaction for any returned revision.
public struct AutoCompactor: Sendable {
    public enum Mode: Sendable, Equatable {
        /// `--auto-compaction-mode=periodic`: keep `retention` seconds of history.
        case periodic(retention: Double)
        /// `--auto-compaction-mode=revision`: keep the last `retain` revisions, checked every 5 min.
        case revision(retain: Int64)
    }

    public let mode: Mode
    /// Seconds between samples/checks.
    public let interval: Double
    private var samples: [(time: Double, revision: Int64)] = []
    private let maxSamples: Int
    private var lastCheck: Double?
    private var lastCompacted: Int64 = 0

    public init(mode: Mode) {
        self.mode = mode
        switch mode {
        case .periodic(let retention):
            precondition(retention > 0, "retention must be positive")
            // etcd: check every retention/10, but at least hourly for long retentions.
            interval = min(retention, 3600) / 10
            maxSamples = Int((retention / interval).rounded(.up)) + 2
        case .revision(let retain):
            precondition(retain > 0, "retention must be positive")
            interval = 300
            maxSamples = 0
        }
    }

    /// Returns the revision to compact to, if any. `now` is monotonic seconds.
    public mutating func tick(now: Double, currentRevision: Int64) -> Int64? {
        if let last = lastCheck, now - last < interval { return nil }
        lastCheck = now
        switch mode {
        case .revision(let retain):
            let target = currentRevision - retain
            guard target > 0, target != lastCompacted else { return nil }
            lastCompacted = target
            return target
        case .periodic(let retention):
            samples.append((now, currentRevision))
            if samples.count > maxSamples { samples.removeFirst(samples.count - maxSamples) }
            // The newest revision observed at least `retention` ago.
            guard let sample = samples.last(where: { now - $0.time >= retention }) else { return nil }
            guard sample.revision > lastCompacted else { return nil }
            lastCompacted = sample.revision
            return sample.revision
        }
    }
}
