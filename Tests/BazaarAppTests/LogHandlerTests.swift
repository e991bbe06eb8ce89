@testable import BazaarApp
import Foundation
import Glibc
import Logging
import Synchronization
import Testing

/// The two log formats (`log.format`): what a line holds, and metadata set on a logger (as the HTTP server sets the
/// request id on every request's) appearing only in the lines written after it.
@Suite struct LogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        var write: @Sendable (String) -> Void { { line in self.lines.withLock { $0.append(line) } } }
    }

    @Test func aTextLineHasTimeLevelLabelSortedMetadataSourceAndMessage() {
        let sink = Lines()
        var logger = Logger(label: "bazaar") { BazaarLogHandler(label: $0, level: .info, format: .text, write: sink.write) }
        logger.debug("not written")
        logger[metadataKey: "hb.request.id"] = "r-1"
        logger.info("outbox relay stopped", metadata: ["a.first": "1"])
        logger.error("delivery failed", error: CocoaError(.fileNoSuchFile))
        let lines = sink.all
        #expect(lines.count == 2)
        let first = lines[0]
        #expect(first.hasSuffix(" info bazaar: a.first=1 hb.request.id=r-1 [BazaarAppTests] outbox relay stopped\n"), "\(first)")
        #expect(RFC3339Prefix.matches(first), "starts with an RFC 3339 UTC time: \(first)")
        #expect(lines[1].contains(" error bazaar: error=") && lines[1].contains("hb.request.id=r-1") && lines[1].hasSuffix("delivery failed\n"))
    }

    @Test func aJSONLineIsOneObjectWithEveryField() throws {
        let sink = Lines()
        var logger = Logger(label: "bazaar") { BazaarLogHandler(label: $0, level: .info, format: .json, write: sink.write) }
        logger[metadataKey: "hb.request.id"] = "r-\"2\""
        logger.warning("slow \"query\"", metadata: ["ms": "1200"])
        let line = try #require(sink.all.first)
        #expect(line.hasSuffix("}\n") && sink.all.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["level"] == "warning" && object["label"] == "bazaar" && object["message"] == "slow \"query\"")
        #expect(object["hb.request.id"] == "r-\"2\"" && object["ms"] == "1200" && object["time"].map(RFC3339Prefix.matches) == true)
    }
}

/// Standard error is whatever the process was given: a pipe whose reader went away, or a full non-blocking pipe, must
/// cost the line, not the process (`FileHandle.write` stops it with `try!`; NIO ignores SIGPIPE, so the write fails).
/// Serialized: fd 2 is the process's, swapped for the test's pipe and back.
@Suite(.serialized) struct StandardErrorSinkTests {
    /// Runs `body` with fd 2 on the write end of a new pipe; `prepare` gets both ends first.
    func withStandardError(_ prepare: (_ read: Int32, _ write: Int32) -> Void, _ body: () -> Void) {
        signal(SIGPIPE, SIG_IGN)
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { Issue.record("no pipe"); return }
        prepare(ends[0], ends[1])
        let saved = dup(2)
        dup2(ends[1], 2)
        body()
        dup2(saved, 2)
        close(saved)
        close(ends[0])
        close(ends[1])
    }

    @Test func aLineToAPipeNobodyReadsIsDropped() {
        withStandardError({ read, _ in close(read) }) {
            writeToStandardError("a line nobody reads\n")
        }
    }

    @Test func aLineTooLongForAFullNonBlockingPipeIsDroppedWithoutWaiting() {
        withStandardError({ _, write in _ = fcntl(write, F_SETFL, fcntl(write, F_GETFL) | O_NONBLOCK) }) {
            writeToStandardError(String(repeating: "x", count: 1 << 20) + "\n")  // more than a pipe holds, never read
        }
    }
}

/// `2026-11-29T20:00:00.000Z` at the start of a text.
enum RFC3339Prefix {
    static func matches(_ text: String) -> Bool {
        let bytes = Array(text.utf8.prefix(24))
        guard bytes.count == 24, bytes[23] == UInt8(ascii: "Z"), bytes[10] == UInt8(ascii: "T") else { return false }
        return [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22].allSatisfy { (48...57).contains(bytes[$0]) }
    }
}
