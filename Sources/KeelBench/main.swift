// keel-bench: a load generator for etcd's v3 gRPC KV API (Put, Range), for Keel and etcd alike.
#if canImport(Glibc)
import Glibc
#endif

do {
    let options = try BenchOptions.parse(Array(CommandLine.arguments.dropFirst()))
    let report = try await BenchRun.run(options)
    print(options.json ? report.json : report.text)
    // Every request failing means the endpoint is wrong or down: say so with the exit code.
    exit(report.errors > 0 && report.histogram.count == 0 ? 1 : 0)
} catch let error as UsageError {
    printError(error.description)
    exit(2)
} catch {
    printError("keel-bench: \(error)")
    exit(1)
}

/// Writes a line to standard error (fd 2 directly: the C `stderr` global is not concurrency-safe).
func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
