#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Writes files so that a crash leaves either the old content or the new, never a mix:
/// a temporary file beside the target, fsync, rename over the target, fsync the directory.
public enum AtomicFile {
    /// Replaces `path` with `bytes`, readable and writable by the owner only unless `permissions`
    /// says otherwise.
    public static func write(
        _ bytes: some Collection<UInt8>, to path: FilePath,
        permissions: FilePermissions = .ownerReadWrite
    ) throws(StateError) {
        let directory = path.removingLastComponent()
        let name = path.lastComponent?.string ?? "file"
        let temporary = directory.appending(".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            let descriptor = try FileDescriptor.open(
                temporary, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: permissions)
            do {
                // The open mode is filtered by umask; set it exactly.
                guard fchmod(descriptor.rawValue, permissions.rawValue) == 0 else { throw Errno(rawValue: errno) }
                _ = try descriptor.writeAll(bytes)
                guard fsync(descriptor.rawValue) == 0 else { throw Errno(rawValue: errno) }
                try descriptor.close()
            } catch {
                try? descriptor.close()
                throw error
            }
            guard rename(temporary.string, path.string) == 0 else { throw Errno(rawValue: errno) }
        } catch let error as Errno {
            _ = unlink(temporary.string)
            throw .io(path: path.string, operation: "write", reason: error.description)
        } catch {
            _ = unlink(temporary.string)
            throw .io(path: path.string, operation: "write", reason: "\(error)")
        }
        syncDirectory(directory)
    }

    /// Flushes a directory entry change (a rename) to disk. Best effort: some file systems
    /// refuse fsync on directories, and the data itself is already durable.
    static func syncDirectory(_ directory: FilePath) {
        let descriptor = open(directory.isEmpty ? "." : directory.string, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}
