#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Shell commands for tests, as `system()` runs them, except that the command inherits no descriptor above
/// standard error.
///
/// The test process holds its live servers' connections as descriptors without close-on-exec (NIO accepts without
/// it), and every test target runs in that one process. A daemon a test started with `system()` (a broker, a
/// `redis-server --daemonize`, a MariaDB server restarted by a test) kept copies of whatever was open then for its
/// whole life, so a connection one of those servers closed sent no FIN while the daemon lived: a test waiting for an
/// idle connection to be closed saw nothing for 60 s, in two CI runs of about eight
/// (`WarmReadConnectionTests.aConnectionAnsweredOnItKeepsItsIdleBound`).
public enum Shell {
    /// Runs `command` with `/bin/sh -c` and returns its wait status (0: it exited 0), like `system()`. Blocks.
    public static func run(_ command: String) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        closeEverythingAboveStandardError(&actions)
        let words: [String] = ["/bin/sh", "-c", command]
        var arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
        arguments.append(nil)
        defer { for argument in arguments { free(argument) } }
        var pid = pid_t()
        guard posix_spawn(&pid, "/bin/sh", &actions, nil, arguments, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        return status
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; Swift's Glibc module does not export it),
    /// else a close action for each descriptor open now.
    private static func closeEverythingAboveStandardError(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            return
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
    }

    /// `run` on a thread of its own: it blocks its thread, and on the Swift concurrency pool (two threads here) it
    /// would stall every other test of the run meanwhile.
    public static func runOffThePool(_ command: String) async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: run(command)) }.start()
        }
    }
}
