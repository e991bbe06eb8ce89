import BazaarDomain
import Foundation
public import Logging

/// One JSON object per line on standard error (`log.format = json`), for log pipelines: time, level, label,
/// message, source location and every metadata key (the request id as `hb.request.id`).
public struct JSONLogHandler: LogHandler {
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
        var fields = [
            "\"time\":\"\(RFC3339.format(millis: now))\"", "\"level\":\"\(event.level.rawValue)\"", "\"label\":\(JSON.quoted(label))",
            "\"message\":\(JSON.quoted(event.message.description))", "\"source\":\(JSON.quoted("\(event.source) \(event.file):\(event.line)"))",
        ]
        if let error = event.error { fields.append("\"error\":\(JSON.quoted(String(describing: error)))") }
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
            fields.append("\(JSON.quoted(key)):\(JSON.quoted(value.description))")
        }
        write("{" + fields.joined(separator: ",") + "}\n")
    }
}
