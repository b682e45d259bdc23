import Foundation

/// A fresh directory under the system temp dir, removed when the last reference goes away.
/// Every server gets its own, so tests running in parallel never share data dirs.
final class ScratchDirectory {
    let path: String

    init(label: String) throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/keel-interop-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    /// A path inside the scratch dir (not created).
    func child(_ name: String) -> String { "\(path)/\(name)" }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
