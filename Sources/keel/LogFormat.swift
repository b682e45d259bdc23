import Foundation
import Logging

/// etcd 3.4's default (capnslog) line format on stderr: `2026-11-23 10:00:00.000000 I | keel: message`,
/// so scripts and tooling that wait for etcd's milestone messages find them.
struct CapnslogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let letter: String
        switch event.level {
        case .trace, .debug: letter = "D"
        case .info, .notice: letter = "I"
        case .warning: letter = "W"
        case .error: letter = "E"
        case .critical: letter = "C"
        }
        var line = "\(Self.timestamp()) \(letter) | \(label): \(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        if !merged.isEmpty {
            line += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        line += "\n"
        FileHandle.standardError.write(line.data(using: .utf8)!)
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%06d", Int(time.tm_year) + 1900, Int(time.tm_mon) + 1,
                      Int(time.tm_mday), Int(time.tm_hour), Int(time.tm_min), Int(time.tm_sec), Int(now.tv_nsec / 1000))
    }
}
