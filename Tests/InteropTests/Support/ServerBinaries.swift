import Foundation

/// Which server a test talks to.
enum ServerKind: String, Sendable, CustomStringConvertible {
    case etcd
    case keel

    var description: String { rawValue }

    /// The server that plays "Keel" in side-by-side tests. `KEEL_INTEROP_SUBJECT=etcd` runs the
    /// whole suite against a second real etcd, which checks the harness and the expectations
    /// themselves independently of Keel.
    static var subject: ServerKind {
        ProcessInfo.processInfo.environment["KEEL_INTEROP_SUBJECT"] == "etcd" ? .etcd : .keel
    }
}

enum ServerBinaries {
    static let etcd = "/usr/bin/etcd"
    static let etcdctl = "/usr/bin/etcdctl"
    static let curl = "/usr/bin/curl"
    /// Debian's interpreter: python3-etcd3 is installed for it, not for a pyenv python on PATH.
    static let python = "/usr/bin/python3"

    static func path(for kind: ServerKind) throws -> String {
        switch kind {
        case .etcd:
            guard FileManager.default.isExecutableFile(atPath: etcd) else {
                throw HarnessError.binaryMissing("\(etcd) (apt-get install etcd-server)")
            }
            return etcd
        case .keel:
            return try keel()
        }
    }

    /// `KEEL_BINARY`, else next to the running test executable (SwiftPM puts the test bundle in
    /// the same products directory as `keel`), else `<package>/.build/debug/keel`.
    static func keel() throws -> String {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["KEEL_BINARY"], !explicit.isEmpty {
            candidates.append(explicit)
        }
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(siblingKeel(of: executable))
        }
        candidates.append(siblingKeel(of: CommandLine.arguments[0]))
        candidates.append(packageRoot() + "/.build/debug/keel")
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw HarnessError.binaryMissing(
            "keel not found (looked at \(candidates.joined(separator: ", "))); run `swift build` first "
                + "or set KEEL_BINARY")
    }

    /// `.build/x/debug/KeelPackageTests.xctest` (an executable on Linux, a bundle on macOS).
    private static func siblingKeel(of executable: String) -> String {
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        if directory.path.contains(".xctest/") {  // macOS: …/X.xctest/Contents/MacOS/X
            while !directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("keel").path
    }

    /// Tests/InteropTests/Support/ServerBinaries.swift -> the package root.
    static func packageRoot(filePath: String = #filePath) -> String {
        URL(fileURLWithPath: filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }
}
