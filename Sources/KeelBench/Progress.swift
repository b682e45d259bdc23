#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on standard output, redrawn every 200 ms while a run goes on; only
/// when standard output is a terminal (scripts and `--json` get none).
final class ProgressBar: Sendable {
    let counter: ProgressCounter
    private let task: Task<Void, Never>

    static var wanted: Bool { isatty(1) == 1 }

    init(counter: ProgressCounter) {
        self.counter = counter
        task = Task {
            while !Task.isCancelled {
                ProgressBar.draw(counter)
                try? await Task.sleep(nanoseconds: 200_000_000)
            }
        }
    }

    /// Stops redrawing, draws the final state and ends the line.
    func finish() {
        task.cancel()
        ProgressBar.draw(counter)
        writeOut("\n")
    }

    private static func draw(_ counter: ProgressCounter) {
        let total = max(1, counter.total)
        let done = min(counter.completed, total)
        let width = 50
        let filled = done * width / total
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1))
        writeOut("\r \(done) / \(total) [\(bar)] \(done * 100 / total)%")
    }
}

/// Writes to standard output unbuffered (the bar must not mix with buffered prints).
func writeOut(_ text: String) {
    var text = text
    text.withUTF8 { bytes in _ = write(1, bytes.baseAddress, bytes.count) }
}
