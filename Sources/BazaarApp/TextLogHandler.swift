import BazaarDomain
import Foundation
import Glibc
public import Logging
import Synchronization

/// One line per event on standard error (`log.format = text`, the default), in swift-log's `StreamLogHandler`
/// layout: `time level label: key=value ... [source] message`.
///
/// Why not `StreamLogHandler` itself: it renders its metadata text again every time a key is set, and the HTTP
/// server sets the request id on every request's logger, so every request paid for a rendering that nearly
/// no request ever logs (measured: 2% of a cached read's CPU). Here metadata is rendered only when a line is written.
public struct TextLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    /// Where lines go: standard error, or a test's buffer.
    let write: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level, write: @escaping @Sendable (String) -> Void = writeToStandardError) {
        self.label = label
        self.logLevel = level
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        var merged = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 })
        if let error = event.error { merged["error"] = "\(String(describing: error))" }
        let pairs = merged.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }
        let line = "\(RFC3339.format(millis: now)) \(event.level) \(label):\(pairs.isEmpty ? "" : " " + pairs.joined(separator: " ")) "
            + "[\(event.source)] \(event.message)\n"
        write(line)
    }
}

/// Writes a log line to standard error, whole (one writer at a time, so lines longer than a pipe's atomic write do
/// not interleave), and never fails: a reader of the pipe that went away (EPIPE: NIO ignores SIGPIPE) or a full
/// non-blocking pipe loses the line, where `FileHandle.write` would have stopped the process with `try!`.
public let writeToStandardError: @Sendable (String) -> Void = { line in
    standardErrorLock.withLock { _ in
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}

private let standardErrorLock = Mutex(())
