import CZlib
import Crypto
public import Foundation
import Glibc

/// A gzip file written through zlib (Foundation on Linux has no gzip), synced before it is renamed into place.
///
/// Written as `<path>.partial-<pid>`, then `finish()` flushes zlib, `fsync`s the file, renames it to `path` and syncs
/// the folder: a file under its final name is always whole. The header carries no time and no name, so the
/// same rows give the same bytes (a re-run after a crash, or a second archiver racing this one, writes the same file).
final class GzipFileWriter {
    let path: String
    private var stream = z_stream()
    private let descriptor: Int32
    private var output = [UInt8](repeating: 0, count: 1 << 16)
    private var hash = SHA256()
    private(set) var compressedBytes: Int64 = 0
    private var finished = false
    private let partial: String

    init(path: String, level: Int32 = 6) throws {
        self.path = path
        partial = Self.partialPath(path)
        descriptor = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ArchiveFileError("cannot create \(partial): \(String(cString: strerror(errno)))") }
        // 15 + 16: a gzip wrapper (not zlib's), the largest window.
        let status = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            close(descriptor)
            throw ArchiveFileError("zlib refused to start a gzip stream (\(status))")
        }
    }

    deinit {
        if !finished {
            deflateEnd(&stream)
            close(descriptor)
        }
    }

    func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { bytes in try deflate(bytes, flush: Z_NO_FLUSH) }
    }

    /// Completes the stream and puts the file in place; answers its SHA-256 (lowercase hex) and size.
    func finish() throws -> (sha256: String, bytes: Int64) {
        try deflate(UnsafeBufferPointer(start: nil, count: 0), flush: Z_FINISH)
        deflateEnd(&stream)
        finished = true
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw ArchiveFileError("cannot sync \(path): \(String(cString: strerror(errno)))") }
        guard rename(partial, path) == 0 else { throw ArchiveFileError("cannot rename \(partial): \(String(cString: strerror(errno)))") }
        try Self.syncFolder(of: path)
        return (hash.finalize().map { String(format: "%02x", $0) }.joined(), compressedBytes)
    }

    private func deflate(_ input: UnsafeBufferPointer<UInt8>, flush: Int32) throws {
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)
        repeat {
            let produced: Int = try output.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress
                stream.avail_out = UInt32(buffer.count)
                let status = CZlib.deflate(&stream, flush)
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw ArchiveFileError("zlib failed while compressing \(path) (\(status))")
                }
                return buffer.count - Int(stream.avail_out)
            }
            if produced > 0 { try writeAll(produced) }
        } while stream.avail_out == 0 || (flush == Z_FINISH && stream.avail_in > 0)
    }

    private func writeAll(_ count: Int) throws {
        try output.withUnsafeBufferPointer { buffer in
            let chunk = UnsafeBufferPointer(rebasing: buffer[0..<count])
            hash.update(bufferPointer: UnsafeRawBufferPointer(chunk))
            var done = 0
            while done < count {
                let written = Glibc.write(descriptor, chunk.baseAddress! + done, count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveFileError("cannot write \(partial): \(String(cString: strerror(errno)))")
                }
                done += written
            }
        }
        compressedBytes += Int64(count)
    }

    /// Where a file is written before it is whole: a name of this process's own, so that two archivers never write
    /// into one file.
    static func partialPath(_ path: String) -> String { path + ".partial-\(getpid())" }

    /// A rename is durable once the folder holding it is synced.
    static func syncFolder(of path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let descriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ArchiveFileError("cannot open the folder \(folder): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw ArchiveFileError("cannot sync the folder \(folder): \(String(cString: strerror(errno)))") }
    }
}

/// Reading an archive back: the whole gzip file decompressed (tests, `bazaar archive`'s check of a resumed run).
public enum Gzip {
    /// The decompressed bytes of a gzip file (one or more members).
    public static func decompress(_ data: Data) throws -> Data {
        var stream = z_stream()
        // 15 + 32: a gzip or zlib header, detected.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ArchiveFileError("zlib refused to start inflating")
        }
        defer { inflateEnd(&stream) }
        var result = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: UInt8.self).baseAddress)
            stream.avail_in = UInt32(input.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = UInt32(buffer.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, buffer.count - Int(stream.avail_out))
                }
                result.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END {
                    // Another member may follow (concatenated gzip files are one file).
                    guard stream.avail_in > 0 else { return }
                    inflateReset(&stream)
                    continue
                }
                guard status == Z_OK || (status == Z_BUF_ERROR && produced > 0) else {
                    throw ArchiveFileError("the file is not valid gzip, or is cut short (zlib \(status))")
                }
            }
        }
        return result
    }

    /// SHA-256 of bytes, lowercase hex.
    public static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// SHA-256 of a file, read a megabyte at a time (archive files can be gigabytes); nil when it cannot be read.
    public static func sha256(ofFile path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hash = SHA256()
        do {
            // nil or empty: the end of the file.
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
        } catch {
            return nil
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// A file of the archive could not be written or read: what happened, with the path.
public struct ArchiveFileError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
