// keel-fuzz: libFuzzer targets for Keel's parsers of untrusted input (fuzz/README.md).
//
//   keel-fuzz TARGET [FILE|DIR ...]        replays inputs (any build; CI replays the corpora this way)
//   keel-fuzz TARGET [libFuzzer flags]     fuzzes (only in the instrumented build: scripts/fuzz.sh)
#if canImport(Glibc)
import Glibc
#endif
import Foundation

let arguments = CommandLine.arguments
if arguments.count == 3 && arguments[1] == "seeds" {
    do { try Seeds.write(to: arguments[2]) } catch {
        FileHandle.standardError.write("cannot write seeds: \(error)\n".data(using: .utf8)!)
        exit(1)
    }
    exit(0)
}
// The target is the first argument; libFuzzer's worker processes (-jobs) get it from the environment.
let fromEnvironment = ProcessInfo.processInfo.environment["KEEL_FUZZ_TARGET"].flatMap(FuzzTargets.named)
let explicit = arguments.count >= 2 ? FuzzTargets.named(arguments[1]) : nil
let targetName = explicit != nil ? arguments[1] : ProcessInfo.processInfo.environment["KEEL_FUZZ_TARGET"] ?? ""
let rest = Array(arguments.dropFirst(explicit != nil ? 2 : 1))
guard let target = explicit ?? fromEnvironment else {
    let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
    FileHandle.standardError.write("usage: keel-fuzz TARGET [FILE|DIR ... | libFuzzer flags]; targets: \(names)\n".data(using: .utf8)!)
    exit(2)
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The chosen target, for the C callback (which cannot capture); set once before fuzzing starts.
nonisolated(unsafe) var selected: ([UInt8]) -> Void = { _ in }
selected = target
setenv("KEEL_FUZZ_TARGET", targetName, 1)
// libFuzzer sees argv without the target name.
var argv: [UnsafeMutablePointer<CChar>?] = [strdup(arguments[0])] + rest.map { strdup($0) } + [nil]
var argc = Int32(argv.count - 1)
let status = argv.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var base: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &base) { data, size in
        selected(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}
exit(status)
#else
var replayed = 0
for path in rest {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
    let files = isDirectory.boolValue
        ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
        : [path]
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        target([UInt8](data))
        replayed += 1
    }
}
print("keel-fuzz \(targetName): replayed \(replayed) inputs, no failure")
#endif
