import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

/// The process's entry point. SwiftPM links an executable's `main` to `<module>_main`; this one
/// hands the arguments to libFuzzer's driver, which calls ``fuzzerInitialize(_:_:)`` and then
/// ``fuzzerTestOneInput(_:_:)`` per input.
@_cdecl("meshwork_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzerTestOneInput(data, size) }
}

/// The target chosen for this process (by ``LLVMFuzzerInitialize``). libFuzzer calls the harness
/// from one thread only, after initialisation: nothing else reads or writes it.
nonisolated(unsafe) private var selectedTarget: FuzzTarget?

/// Picks the target before libFuzzer reads its own options: the first argument when it names a
/// target (it is removed, so libFuzzer sees only its options and corpus folders), otherwise the
/// environment variable `MESHWORK_FUZZ_TARGET`. `list` prints the targets; `write-seeds DIR`
/// writes every target's seed corpus under DIR/<target>/ and exits.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let arguments = (0..<Int(argc.pointee)).map { String(cString: argv.pointee![$0]!) }
    var name = getenv("MESHWORK_FUZZ_TARGET").map { String(cString: $0) }
    if arguments.count > 1 {
        switch arguments[1] {
        case "list":
            for target in FuzzTarget.all { print("\(target.name)\t\(target.summary)") }
            exit(0)
        case "write-seeds":
            guard arguments.count > 2 else { fail("usage: meshwork-fuzz write-seeds DIR") }
            do { try SeedWriter.writeAll(under: arguments[2]) } catch { fail("cannot write seeds: \(error)") }
            exit(0)
        case let first where FuzzTarget.named(first) != nil:
            name = first
            // Drop the target name so that libFuzzer does not take it for a corpus folder.
            let list = argv.pointee!
            for index in 1..<Int(argc.pointee) { list[index] = list[index + 1] }
            argc.pointee -= 1
        default:
            break
        }
    }
    guard let name else { fail("meshwork-fuzz: name a target first (meshwork-fuzz list shows them), or set MESHWORK_FUZZ_TARGET") }
    guard let target = FuzzTarget.named(name) else { fail("meshwork-fuzz: unknown target '\(name)' (meshwork-fuzz list shows them)") }
    selectedTarget = target
    return 0
}

/// Runs the selected target on one input. Returning normally means "no crash"; any trap,
/// precondition failure or sanitizer report is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    selectedTarget?.run(bytes)
    return 0
}

func fail(_ message: String) -> Never {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}
