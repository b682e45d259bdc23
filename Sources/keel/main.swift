import CJemallocConfig
import Dispatch
import EtcdServer
import Foundation
import KeelConfig
import Logging

// `keel` starts like `etcd`: the same flags and ETCD_* variables. Nothing touches the data dir until the
// whole command line and environment are valid.
let outcome = ConfigParser.parse(arguments: Array(CommandLine.arguments.dropFirst()),
                                 environment: ProcessInfo.processInfo.environment)
let config: ServerConfig
let warnings: [String]
switch outcome {
case .printVersion:
    print(KeelVersion.versionText)
    exit(0)
case .printHelp(let text):
    print(text)
    exit(0)
case .failure(let message, let code):
    FileHandle.standardError.write((message.hasSuffix("\n") ? message : message + "\n").data(using: .utf8)!)
    exit(code)
case .run(let c, let w):
    config = c
    warnings = w
}

let level: Logger.Level
switch config.logLevel {
case .debug: level = .debug
case .info: level = .info
case .warn: level = .warning
case .error: level = .error
case .dpanic, .panic, .fatal: level = .critical
}
LoggingSystem.bootstrap { label in CapnslogHandler(logLevel: level, label: label) }
let logger = Logger(label: "keel")
for used in config.environmentUsed { logger.info("recognized and used environment variable \(used)") }
for warning in warnings { logger.warning("\(warning)") }
logger.info("keel \(KeelVersion.keelVersion), etcd API \(KeelVersion.etcdVersion)", metadata: [
    "name": "\(config.name)", "data-dir": "\(config.dataDir)"])
logger.debug("allocator options", metadata: ["jemalloc": "\(String(cString: keel_jemalloc_options()))"])

switch DiskFailpoints.check(environment: ProcessInfo.processInfo.environment) {
case .unset: break
case .active(let text): logger.warning("\(text)")
case .invalid(let text):
    logger.critical("\(text)")
    exit(1)
}

let (signals, sources) = TerminationSignals.install()

do {
    let server = try await KeelServer.start(config: config, logger: logger)
    var iterator = signals.makeAsyncIterator()
    _ = await iterator.next()
    await server.shutdown()
    withExtendedLifetime(sources) {}
    exit(0)
} catch {
    logger.critical("cannot start: \(error)")
    exit(1)
}
