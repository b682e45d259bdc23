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
guard arguments.count >= 2, let target = FuzzTargets.named(arguments[1]) else {
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
// libFuzzer sees argv without the target name.
var argv: [UnsafeMutablePointer<CChar>?] = [strdup(arguments[0])] + arguments.dropFirst(2).map { strdup($0) } + [nil]
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
for path in arguments.dropFirst(2) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
    let files = isDirectory.boolValue
        ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
        : [path]
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        target([UInt8](data))
        replayed += 1
    }
}
print("keel-fuzz \(arguments[1]): replayed \(replayed) inputs, no failure")
#endif
