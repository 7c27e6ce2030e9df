#if canImport(Glibc)
import Glibc
#endif

/// Writes every target's seeds to `<directory>/<target>/seed-NN` (how Fuzz/Corpus is made:
/// `scripts/fuzz seeds`).
enum SeedWriter {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func writeAll(under directory: String) throws {
        for target in FuzzTarget.all {
            let folder = "\(directory)/\(target.name)"
            guard mkdir(folder, 0o755) == 0 || errno == EEXIST else { throw Failure(description: "cannot create \(folder)") }
            for (index, seed) in target.seeds().enumerated() {
                let path = folder + "/seed-" + (index < 10 ? "0" : "") + String(index)
                guard AgentTargets.writeFile(seed, to: path, mode: 0o644) else { throw Failure(description: "cannot write \(path)") }
            }
        }
    }
}
