import Foundation
import NIOCore
@testable import RedisClient
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
import TestShell

enum TestRedis {
    static let url = ProcessInfo.processInfo.environment["BAZAAR_TEST_REDIS_URL"]
    static var available: Bool { url != nil }

    static func client(protocolVersion: Int = 3) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: url!)
        configuration.protocolVersion = protocolVersion
        // Room for a loaded machine: the whole suite shares two cores (the timeouts themselves are tested on their own;
        // a first connection timed out at 500 ms at the start of a CI pass).
        configuration.commandTimeoutMillis = 5000
        configuration.connectTimeoutMillis = 10_000
        return RedisClient(configuration: configuration)
    }

    /// Runs blocking work (processes, sleeps) on a thread of its own: on the Swift concurrency pool (two threads
    /// here) it would stall every other test of the run meanwhile, and their timeouts would fire.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    static func startPrivate(port: Int) async throws { try await offPool { try startPrivateBlocking(port: port) } }
    static func stopPrivate(port: Int) async { _ = try? await offPool { stopPrivateBlocking(port: port) } }

    /// A private redis-server (so that stopping it disturbs no other test), with a password.
    static func startPrivateBlocking(port: Int) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(port)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let status = Shell.run("redis-server --port \(port) --bind 127.0.0.1 --save '' --requirepass s3cret --enable-debug-command yes --daemonize yes --dir \(directory) "
            + "--pidfile \(directory)/redis.pid --logfile \(directory)/redis.log")
        guard status == 0 else { throw RedisError.unavailable("could not start redis-server on \(port)") }
        for _ in 0..<50 where Shell.run("redis-cli -p \(port) -a s3cret --no-auth-warning ping >/dev/null 2>&1") != 0 { usleep(100_000) }
    }

    static func stopPrivateBlocking(port: Int) {
        _ = Shell.run("redis-cli -p \(port) -a s3cret --no-auth-warning shutdown nosave >/dev/null 2>&1")
        for _ in 0..<50 where Shell.run("redis-cli -p \(port) -a s3cret --no-auth-warning ping >/dev/null 2>&1") == 0 { usleep(100_000) }
    }
}

@Suite(.enabled(if: TestRedis.available, "needs BAZAAR_TEST_REDIS_URL (scripts/services/redis.sh)"))
struct RedisClientTests {
    @Test func configurationFromURL() throws {
        let configuration = try RedisConfiguration(url: "redis://app:pw@cache.example:6380/3?timeout_ms=50&connections=2&protocol=2")
        #expect(configuration.username == "app" && configuration.password == "pw")
        #expect(configuration.host == "cache.example" && configuration.port == 6380 && configuration.database == 3)
        #expect(configuration.commandTimeoutMillis == 50 && configuration.connections == 2 && configuration.protocolVersion == 2)
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "http://x") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://x/abc") }
    }

    @Test(arguments: [2, 3])
    func commandsAndPipelinesInBothProtocols(_ version: Int) async throws {
        let client = try TestRedis.client(protocolVersion: version)
        let key = "test:\(UUID().uuidString)"
        #expect(try await client.send(["SET", key, "naïve 🛒"]).string == "OK")
        #expect(try await client.send(["GET", key]).string == "naïve 🛒")
        #expect(try await client.send(["GET", key + ":missing"]).isNull)
        let counter = key + ":n"
        let replies = try await client.pipeline(Array(repeating: ["INCR", counter], count: 100))
        #expect(replies.map(\.int) == (1...100).map { Int64($0) })
        let hash = try await client.pipeline([["HSET", key + ":h", "a", "1", "b", "2"], ["HGETALL", key + ":h"], ["WRONGCMD"]])
        #expect(hash[0].int == 2)
        if version == 3 {
            guard case .map(let pairs) = hash[1] else { Issue.record("RESP3 HGETALL is a map"); return }
            #expect(pairs.count == 2)
        } else {
            #expect(hash[1].array?.count == 4)
        }
        guard case .error(let message) = hash[2] else { Issue.record("an unknown command is an error reply"); return }
        #expect(message.hasPrefix("ERR"))
        await #expect(throws: RedisError.self) { try await client.send(["INCR", key]) }  // not an integer
        _ = try await client.send(["DEL", key, counter, key + ":h"])
        await client.close()
    }

    /// A stall of the event loop in its I/O phase (a slow handler) longer than the timeout: the reply is read in
    /// that phase and the timeout task runs just after, in the task phase, before the waiting task can cancel it.
    /// The answered connection must stay open: it was closed, and other callers' commands in flight on it failed
    /// with "connection closed" (a CI failure under load).
    @Test func aReplyReadDuringAStallKeepsItsConnection() async throws {
        var configuration = try RedisConfiguration(url: TestRedis.url!)
        configuration.commandTimeoutMillis = 200
        let connection = try await RedisConnection.connect(configuration)
        try await connection.channel.pipeline.addHandler(StallingReader(millis: 600), position: .first)
        #expect(try await connection.send(["PING"]).string == "PONG")
        try await Task.sleep(for: .milliseconds(100))
        #expect(connection.isActive, "the timeout closed a connection whose reply had come")
        await connection.close()
    }

    @Test func scriptsLoadThemselvesAfterAFlush() async throws {
        let client = try TestRedis.client()
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let key = "test:script:\(UUID().uuidString)"
        _ = try await client.send(["SCRIPT", "FLUSH"])
        #expect(try await client.run(script, keys: [key], arguments: ["5"]).int == 5)
        #expect(try await client.run(script, keys: [key], arguments: ["2"]).int == 7)
        _ = try await client.send(["SCRIPT", "FLUSH"])
        #expect(try await client.run(script, keys: [key], arguments: ["1"]).int == 8)
        await client.close()
    }

    /// Scripts keep running while another client flushes the server's script cache over and over (a restart or a
    /// failover does the same): loading then retrying by SHA-1 lost that race.
    @Test func scriptsRunWhileTheScriptCacheIsFlushed() async throws {
        let client = try TestRedis.client()
        let flusher = try TestRedis.client()
        let script = RedisScript("return redis.call('INCR', KEYS[1]) -- flushed \(UUID().uuidString)")
        let key = "test:script-flush:\(UUID().uuidString)"
        let flushing = Task {
            while !Task.isCancelled { _ = try? await flusher.send(["SCRIPT", "FLUSH"]) }
        }
        var failures = 0
        for _ in 0..<300 {
            do { _ = try await client.run(script, keys: [key], arguments: []) } catch { failures += 1 }
        }
        flushing.cancel()
        #expect(failures == 0)
        #expect(try await client.send(["GET", key]).string == String(300 - failures))
        _ = try await client.send(["DEL", key])
        await client.close()
        await flusher.close()
    }

    @Test func publishedMessagesReachSubscribers() async throws {
        let client = try TestRedis.client()
        let channel = "test:channel:\(UUID().uuidString)"
        let received = Mutex<[RedisPubSubEvent]>([])
        let subscriber = RedisSubscriber(configuration: client.configuration, channels: [channel])
        let task = Task { await subscriber.run { event in received.withLock { $0.append(event) } } }
        defer { task.cancel() }
        var delivered = false
        for attempt in 0..<50 {
            _ = try await client.send(["PUBLISH", channel, "hello \(attempt)"])
            try await Task.sleep(for: .milliseconds(50))
            if received.withLock({ $0.contains { if case .message(_, let p) = $0 { p.hasPrefix("hello") } else { false } } }) {
                delivered = true
                break
            }
        }
        #expect(delivered)
        #expect(received.withLock { $0.first } == .subscribed)
        await client.close()
    }

    @Test func timeoutsAuthSelectAndReconnectAfterAServerRestart() async throws {
        let port = 16400 + Int.random(in: 0..<500)
        try await TestRedis.startPrivate(port: port)
        // A timeout with room for a loaded machine (the whole suite runs at once on two cores), and a command made
        // slower than it on purpose below.
        var configuration = try RedisConfiguration(url: "redis://:s3cret@127.0.0.1:\(port)/2?timeout_ms=1000&connections=1")
        configuration.minBackoffMillis = 20
        configuration.maxBackoffMillis = 100
        let client = RedisClient(configuration: configuration)
        _ = try await client.send(["SET", "k", "v"])
        #expect(try await client.send(["CLIENT", "INFO"]).string?.contains("db=2") == true)
        // A command slower than the timeout fails with .timeout; the connection is replaced.
        await #expect(throws: RedisError.timeout) { try await client.send(["DEBUG", "SLEEP", "2.5"]) }
        // The replacement connection comes back by itself (within its backoff; a loaded machine may take longer).
        var pong = false
        for _ in 0..<100 where !pong {
            try await Task.sleep(for: .milliseconds(100))
            pong = (try? await client.send(["PING"]))?.string == "PONG"
        }
        #expect(pong)
        // Wrong password: the server's refusal surfaces.
        var wrong = configuration
        wrong.password = "nope"
        await #expect(throws: (any Error).self) { try await RedisConnection.connect(wrong).close() }

        await TestRedis.stopPrivate(port: port)
        await #expect(throws: (any Error).self) { try await client.send(["PING"]) }
        try await TestRedis.startPrivate(port: port)
        var answered = false
        for _ in 0..<50 {
            if (try? await client.send(["PING"]))?.string == "PONG" { answered = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(answered, "the client reconnects by itself")
        await client.close()
        await TestRedis.stopPrivate(port: port)
    }
}

/// Sleeps on the event loop before passing each read on: a loop busy in its I/O phase.
final class StallingReader: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let millis: Int
    init(millis: Int) { self.millis = millis }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        usleep(useconds_t(millis * 1000))
        context.fireChannelRead(data)
    }
}
