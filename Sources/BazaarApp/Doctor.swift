import BazaarSQLite
import Dispatch
import Foundation
import KafkaClient
import MySQLClient
import RedisClient

/// `bazaar doctor`: connects to every dependency the configuration names (the database primary and each
/// replica, Redis, Kafka) the way `serve` would, and says for each whether it works, and if not, what to check.
///
/// It changes nothing: a SQLite file that does not exist yet is not created (its folder is checked instead), no
/// schema is migrated, no topic is created.
public enum Doctor {
    /// The verdict on one dependency.
    public struct Check: Sendable {
        /// What was checked, for example `database primary`.
        public var name: String
        /// Where, with any password hidden.
        public var target: String
        /// nil when it works; otherwise what is wrong and what to check.
        public var problem: String?
        /// What was found when it works (a server version, the brokers).
        public var detail: String

        public var ok: Bool { problem == nil }

        /// `OK   database primary  sqlite://./bazaar.sqlite: ...` or `FAIL ...: <what is wrong and what to check>`.
        public var line: String {
            let what = "\(name) (\(target))"
            if let problem { return "FAIL \(what): \(problem)" }
            return "OK   \(what)" + (detail.isEmpty ? "" : ": \(detail)")
        }
    }

    /// Checks every configured dependency, one after the other, each bounded by `timeoutSeconds`.
    public static func run(_ configuration: BazaarConfiguration, timeoutSeconds: UInt32 = 5) async -> [Check] {
        var checks: [Check] = []
        switch try? DatabaseLocation(configuration.databaseURL) {
        case .sqlite(let path)?:
            checks.append(await sqlite(path: path, url: configuration.databaseURL))
        case .mysql(let url)?:
            checks.append(await mysql(name: "database primary", url: url, timeoutSeconds: timeoutSeconds))
            for (index, replica) in configuration.replicaURLs.enumerated() {
                checks.append(await mysql(name: "database replica \(index + 1)", url: replica, timeoutSeconds: timeoutSeconds))
            }
        case nil:
            checks.append(Check(name: "database", target: CommandLineErrors.redacted(configuration.databaseURL),
                                problem: "database.url must start with sqlite:// or mysql://", detail: ""))
        }
        if let url = configuration.redisURL {
            checks.append(await redis(url: url, timeoutSeconds: timeoutSeconds))
        } else {
            checks.append(Check(name: "redis", target: "not configured", problem: nil, detail: "in-process cache and rate limits"))
        }
        if let brokers = configuration.kafkaBrokers {
            do {
                checks.append(await kafka(brokers: brokers, security: try configuration.kafkaSecurity(), timeoutSeconds: timeoutSeconds))
            } catch {
                checks.append(Check(name: "kafka", target: brokers, problem: "\(error)", detail: ""))
            }
        } else {
            checks.append(Check(name: "kafka", target: "not configured", problem: nil, detail: "in-process event bus"))
        }
        return checks
    }

    /// An existing file is opened and read; a missing one must be creatable (its folder exists and is writable).
    static func sqlite(path: String, url: String) async -> Check {
        let name = "database"
        let files = FileManager.default
        guard files.fileExists(atPath: path) else {
            let folder = (path as NSString).deletingLastPathComponent
            let folderPath = folder.isEmpty ? "." : folder
            var isFolder: ObjCBool = false
            guard files.fileExists(atPath: folderPath, isDirectory: &isFolder), isFolder.boolValue else {
                return Check(name: name, target: url, problem: "the folder \(folderPath) does not exist; create it or change database.url (--database-url, BAZAAR_DATABASE_URL)", detail: "")
            }
            guard files.isWritableFile(atPath: folderPath) else {
                return Check(name: name, target: url, problem: "the folder \(folderPath) is not writable, so the SQLite file cannot be created; fix its permissions or change database.url", detail: "")
            }
            return Check(name: name, target: url, problem: nil, detail: "SQLite; the file does not exist yet and will be created at the first start")
        }
        do {
            let store = try SQLiteStockStore(path: path)
            defer { Task { try? await store.close() } }
            try await store.ping()
            return Check(name: name, target: url, problem: nil, detail: "SQLite file readable")
        } catch {
            return Check(name: name, target: url,
                         problem: "\(CommandLineErrors.plainDescription(of: error)); check that the file is a SQLite database, readable and writable, and not locked by another program",
                         detail: "")
        }
    }

    static func mysql(name: String, url: String, timeoutSeconds: UInt32) async -> Check {
        var configuration: MySQLConfiguration
        do {
            configuration = try MySQLConfiguration(url: url)
        } catch {
            return Check(name: name, target: CommandLineErrors.redacted(url), problem: "\(error.message); fix the URL", detail: "")
        }
        configuration.connectTimeoutSeconds = min(configuration.connectTimeoutSeconds, timeoutSeconds)
        configuration.readTimeoutSeconds = min(configuration.readTimeoutSeconds, timeoutSeconds)
        let target = configuration.redacted
        let outcome: Result<String, MySQLError> = await onThread { [configuration] in
            // The C client blocks: it runs on a thread of its own, not on the cooperative pool.
            let connection = MySQLConnection(configuration: configuration)
            defer { connection.close() }
            do throws(MySQLError) {
                try connection.open()
                let version = try connection.query("SELECT VERSION()").first?.optionalString(0) ?? "unknown version"
                return .success(version)
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let version):
            return Check(name: name, target: target, problem: nil, detail: "server \(version)")
        case .failure(let error):
            // The same sentence the other commands print, less the part that repeats the target.
            return Check(name: name, target: target, problem: CommandLineErrors.mysqlSentence(error, database: target), detail: "")
        }
    }

    static func redis(url: String, timeoutSeconds: UInt32) async -> Check {
        var configuration: RedisConfiguration
        do {
            configuration = try RedisConfiguration(url: url)
        } catch {
            return Check(name: "redis", target: CommandLineErrors.redacted(url), problem: "\(error.description); fix redis.url", detail: "")
        }
        // The service's timeouts (100 ms a command by default) suit the hot path, not a question asked once of a
        // server that may be busy: the doctor waits as long for Redis as for the database and the broker.
        let patience = Int(timeoutSeconds) * 1000
        configuration.commandTimeoutMillis = max(configuration.commandTimeoutMillis, patience)
        configuration.connectTimeoutMillis = max(configuration.connectTimeoutMillis, patience)
        let client = RedisClient(configuration: configuration)
        defer { Task { await client.close() } }
        let target = CommandLineErrors.redacted(url)
        do {
            _ = try await client.send(["PING"])
            let info = try? await client.send(["INFO", "server"])
            let version = info?.string.flatMap(Self.redisVersion(in:))
            return Check(name: "redis", target: target, problem: nil, detail: version.map { "server \($0)" } ?? "answers PING")
        } catch {
            return Check(name: "redis", target: target,
                         problem: "\((error as? RedisError).map(CommandLineErrors.redisReason) ?? CommandLineErrors.plainDescription(of: error)); check that Redis is running there and that redis.url (--redis-url, BAZAAR_REDIS_URL) is right, or unset it",
                         detail: "")
        }
    }

    static func redisVersion(in info: String) -> String? {
        guard let range = info.range(of: "redis_version:") else { return nil }
        return String(info[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    static func kafka(brokers: String, security: KafkaSecurity = .plaintext, timeoutSeconds: UInt32) async -> Check {
        let outcome: Result<[String], KafkaError> = await onThread {
            do throws(KafkaError) {
                return .success(try KafkaAdmin.clusterBrokers(brokers: brokers, security: security, timeoutMillis: Int32(timeoutSeconds) * 1000))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let found):
            return Check(name: "kafka", target: brokers, problem: nil,
                         detail: "brokers \(found.joined(separator: ", ")) (\(security.securityProtocol.rawValue))")
        case .failure(let error):
            return Check(name: "kafka", target: brokers,
                         problem: "cannot be reached (\(error.message)); check that the brokers run there and that kafka.brokers (--kafka-brokers, BAZAAR_KAFKA_BROKERS) is right, or unset it"
                            + (security == .plaintext ? "" : "; and that kafka.security_protocol (\(security.securityProtocol.rawValue)), the CA file and the SASL user are those the brokers expect"),
                         detail: "")
        }
    }

    /// Runs blocking work on a Dispatch thread and resumes with its result.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }
}
