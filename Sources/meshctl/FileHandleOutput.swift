#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to standard error (progress and warnings, kept apart from results on stdout).
enum FileHandleOutput {
    case standardError

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress?.advanced(by: offset), buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
