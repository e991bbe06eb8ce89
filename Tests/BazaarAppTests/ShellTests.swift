import Foundation
import Testing
import TestShell

/// `Shell`: a command a test runs inherits none of the test process's descriptors, so a daemon it leaves running
/// cannot keep a connection of the process open after the process closed it.
@Suite struct ShellTests {
    /// The write end of a pipe, closed here while a background `sleep` started through `Shell` lives on: the read end
    /// sees the end at once. Through `system()` the `sleep` held a copy of the write end for its 20 s.
    @Test func aDaemonStartedByATestHoldsNoneOfItsDescriptors() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        #expect(Shell.run("sleep 20 </dev/null >/dev/null 2>&1 &") == 0)
        close(ends[1])
        var watched = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&watched, 1, 5_000) == 1, "the end of the pipe, not a timeout")
        var byte: UInt8 = 0
        #expect(read(ends[0], &byte, 1) == 0, "end of file: nobody else holds the write end")
    }
}
