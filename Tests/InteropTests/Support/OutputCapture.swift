import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Drains a server's combined stdout+stderr on a background thread into a bounded buffer and
/// signals when a marker line ("ready to serve client requests") shows up or the stream ends.
/// Draining for the whole life of the server matters: a child blocked on a full pipe would hang.
final class OutputCapture: Sendable {
    /// Servers in these tests log a few KiB; anything past this is dropped (and counted).
    static let limitBytes = 1 << 20
    private static let chunkBytes = 64 << 10

    private struct State {
        var bytes: [UInt8] = []
        var droppedBytes = 0
        var markerSeen = false
        var finished = false
    }

    private let state = Mutex(State())
    private let marker: [UInt8]
    /// Signalled exactly once: on the marker or at end of stream, whichever comes first.
    private let settled = DispatchSemaphore(value: 0)

    /// Takes ownership of `readDescriptor` and closes it at end of stream.
    init(readDescriptor: Int32, marker: String) {
        precondition(readDescriptor >= 0)
        precondition(!marker.isEmpty)
        self.marker = Array(marker.utf8)
        let thread = Thread { [self] in self.drain(readDescriptor) }
        thread.name = "keel-interop-output"
        thread.start()
    }

    private func drain(_ descriptor: Int32) {
        var chunk = [UInt8](repeating: 0, count: Self.chunkBytes)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            append(chunk[0..<count])
        }
        close(descriptor)
        let signalNow = state.withLock { state -> Bool in
            state.finished = true
            return !state.markerSeen
        }
        if signalNow { settled.signal() }
    }

    private func append(_ chunk: ArraySlice<UInt8>) {
        let sawMarkerNow = state.withLock { state -> Bool in
            let room = Self.limitBytes - state.bytes.count
            let start = max(0, state.bytes.count - marker.count)
            state.bytes.append(contentsOf: chunk.prefix(room))
            state.droppedBytes += max(0, chunk.count - room)
            guard !state.markerSeen, contains(state.bytes[start...], marker) else { return false }
            state.markerSeen = true
            return true
        }
        if sawMarkerNow { settled.signal() }
    }

    /// Blocks until the marker appears (true) or the stream ends or time runs out (false).
    func waitForMarker(timeoutSeconds: Double) -> Bool {
        _ = settled.wait(timeout: .now() + timeoutSeconds)
        return state.withLock { $0.markerSeen }
    }

    /// Everything captured so far, as text.
    var text: String {
        state.withLock { state in
            let body = String(decoding: state.bytes, as: UTF8.self)
            return state.droppedBytes == 0 ? body : body + "\n[… \(state.droppedBytes) bytes dropped]"
        }
    }
}

private func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
    guard haystack.count >= needle.count else { return false }
    var index = haystack.startIndex
    while index <= haystack.endIndex - needle.count {
        if haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
        index += 1
    }
    return false
}
