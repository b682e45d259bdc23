import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM / SIGINT become an async stream: the server answers with GOAWAY, drains, flushes, exits 0.
/// Kept out of main.swift so the handlers are not main-actor isolated (dispatch runs them on its own queue).
enum TerminationSignals {
    static func install() -> (AsyncStream<Int32>, [DispatchSourceSignal]) {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        return (stream, sources)
    }
}
