import BazaarDomain
import Foundation
import Glibc
public import Logging
import Synchronization

/// The service's log handler (`log.format`): one line per event on standard error.
/// - `text`, the default: swift-log's `StreamLogHandler` layout, `time level label: key=value ... [source] message`,
///   the time in UTC (RFC 3339 with milliseconds), metadata keys sorted;
/// - `json`, for log pipelines: one object per line with `time`, `level`, `label`, `message`, `source` (module,
///   file and line), `error` when one is given, and every metadata key (the request id as `hb.request.id`).
///
/// Why not `StreamLogHandler` itself: it renders its metadata text again every time a key is set, and the HTTP
/// server sets the request id on every request's logger, so every request paid for a rendering that nearly
/// no request ever logs (measured: 2% of a cached read's CPU). Here metadata is rendered only when a line is written.
public struct BazaarLogHandler: LogHandler {
    public enum Format: Sendable { case text, json }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let format: Format
    /// Where lines go: standard error, or a test's buffer.
    let write: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level, format: Format, write: @escaping @Sendable (String) -> Void = writeToStandardError) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let time = RFC3339.format(millis: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
        let merged = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key })
        write(format == .json ? jsonLine(event, time: time, metadata: merged) : textLine(event, time: time, metadata: merged))
    }

    func textLine(_ event: LogEvent, time: String, metadata: [(key: String, value: Logger.Metadata.Value)]) -> String {
        var pairs = metadata.map { "\($0.key)=\($0.value)" }
        if let error = event.error {
            pairs.append("error=\(String(describing: error))")
            pairs.sort()
        }
        return "\(time) \(event.level) \(label):\(pairs.isEmpty ? "" : " " + pairs.joined(separator: " ")) [\(event.source)] \(event.message)\n"
    }

    func jsonLine(_ event: LogEvent, time: String, metadata: [(key: String, value: Logger.Metadata.Value)]) -> String {
        var fields = [
            "\"time\":\"\(time)\"", "\"level\":\"\(event.level.rawValue)\"", "\"label\":\(JSON.quoted(label))",
            "\"message\":\(JSON.quoted(event.message.description))", "\"source\":\(JSON.quoted("\(event.source) \(event.file):\(event.line)"))",
        ]
        if let error = event.error { fields.append("\"error\":\(JSON.quoted(String(describing: error)))") }
        for (key, value) in metadata { fields.append("\(JSON.quoted(key)):\(JSON.quoted(value.description))") }
        return "{" + fields.joined(separator: ",") + "}\n"
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
