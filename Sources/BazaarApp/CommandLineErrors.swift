import BazaarCore
import BazaarDomain
import BazaarHTTP
import Foundation
import KafkaClient
import MySQLClient
import RedisClient

/// A failure of a command, already worded for the person who typed it: what is wrong, then what to do.
///
/// ArgumentParser prints an error's `description` after `Error: `; an error that is not one of these would be
/// printed as Swift sees it (`invalid(field: "movements", message: ...)`), so the command line turns every error
/// into one with `CommandLineErrors.sentence(for:configuration:)` before it reaches ArgumentParser.
public struct CommandFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The one mapping from errors to plain sentences for the command line, as `Problem` is for HTTP (it reuses the
/// problems' titles and details, so the CLI and the API say the same thing about the same refusal).
public enum CommandLineErrors {
    /// A sentence (or two) for `error`: no Swift type names, no enum dumps. `configuration`, when known, lets the
    /// sentence name the setting to check (with any password hidden).
    public static func sentence(for error: any Error, configuration: BazaarConfiguration? = nil) -> String {
        let database = configuration.map { redacted($0.databaseURL) } ?? "the database"
        switch error {
        case let failure as CommandFailure:
            return failure.description
        case let refusal as DomainError:
            let problem = Problem(refusal)
            return finished("\(problem.title): \(problem.detail)")
        case let unavailable as StorageUnavailable:
            return finished("The database (\(database)) cannot be reached: \(unavailable.description)")
                + " Check that it is running and that database.url (--database-url, BAZAAR_DATABASE_URL) points at it;"
                + " `bazaar doctor` checks every dependency."
        case let configurationError as ConfigurationError:
            return finished(capitalized(configurationError.description)) + " `bazaar serve --help` lists every setting."
        case let size as DemoSizeError:
            return finished(capitalized(size.description))
        case let load as DemoLoadError:
            return finished(capitalized(load.description))
        case let refusal as ArchiveRefusal:
            return finished("Nothing was archived: " + refusal.description)
        case let conflict as ArchiveRunConflict:
            return finished("Nothing was deleted: " + conflict.description)
        case let file as ArchiveFileError:
            return finished("An archive file failed: " + file.description)
                + " Nothing was removed from the ledger; fix the cause and run archive again."
        case let mysql as MySQLError:
            return mysqlSentence(mysql, database: database)
        case let redis as RedisError:
            let target = configuration?.redisURL.map(redacted) ?? "Redis"
            return finished("\(target) failed: \(redisReason(redis))")
                + " Check that Redis is running and that redis.url (--redis-url, BAZAAR_REDIS_URL) is right, or unset it to use the in-process cache."
        case let kafka as KafkaError:
            let target = configuration?.kafkaBrokers ?? "the Kafka brokers"
            return finished("Kafka (\(target)) failed: \(kafka.message.isEmpty ? kafka.description : kafka.message)")
                + " Check kafka.brokers (--kafka-brokers, BAZAAR_KAFKA_BROKERS), or unset it to use the in-process event bus."
        case let decoding as DecodingError:
            return finished("A JSON value could not be read: \(Problem.decoding(decoding).detail)")
        default:
            let text = plainDescription(of: error)
            if text.hasPrefix("SQLite error") {
                return finished("The SQLite database (\(database)) could not be used: \(text)")
                    + " Check that its folder exists and is writable, and that no other program holds it locked."
            }
            return finished(capitalized(text))
        }
    }

    /// `mysql://user:secret@host/db` -> `mysql://user:***@host/db` (any URL with credentials).
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let credentials = url[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    /// The error's own text when its author wrote one (`CustomStringConvertible`, `LocalizedError`); never the
    /// reflection of a bare enum or struct, which would show Swift type names to a user.
    static func plainDescription(of error: any Error) -> String {
        if let localized = error as? any LocalizedError, let text = localized.errorDescription { return text }
        // Every error converts to CustomStringConvertible here (through NSError), so ask the type itself whether
        // its author wrote a description; a bare enum's would be the dump this type exists to avoid.
        if type(of: error as Any) is any CustomStringConvertible.Type { return String(describing: error) }
        return "the command stopped on an unexpected internal error; run it again with --log-level debug for the details and report them"
    }

    static func mysqlSentence(_ error: MySQLError, database: String) -> String {
        let what = error.message.isEmpty ? "error \(error.code)" : error.message
        switch error.code {
        case 1045:
            return finished("MySQL refused the login to \(database): \(what)")
                + " Check the user and password in database.url (percent-encode @ : / in the password)."
        case 1049:
            return finished("The database named in \(database) does not exist: \(what)")
                + " Create it (CREATE DATABASE name) or fix database.url; `bazaar migrate` then creates the tables."
        case 2002, 2003, 2005, 2006, 2013:
            return finished("MySQL at \(database) cannot be reached: \(what)")
                + " Check that the server is running and the host and port in database.url (localhost means the Unix socket; use 127.0.0.1 for TCP)."
        case 2026:
            return finished("The TLS connection to \(database) failed: \(what)")
                + " Check tls and tls_ca in database.url."
        default:
            return finished("MySQL (\(database)) answered error \(error.code): \(what)")
                + " Check database.url and the server's log."
        }
    }

    /// What went wrong with Redis in words: the client's connection errors carry SwiftNIO's own error values,
    /// which read as Swift, so the usual causes are named and the rest keeps the client's text.
    static func redisReason(_ error: RedisError) -> String {
        let text = error.description
        if text.contains("Connection refused") { return "connection refused (nothing listens on that host and port)" }
        if text.localizedCaseInsensitiveContains("timed out") || text.localizedCaseInsensitiveContains("timeout") { return "no answer in time" }
        if text.contains("NOAUTH") || text.contains("WRONGPASS") { return "the password was refused or is missing" }
        return text
    }

    /// Ends with a full stop unless it already ends a sentence.
    static func finished(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let last = trimmed.last else { return trimmed }
        return ".!?".contains(last) ? trimmed : trimmed + "."
    }

    static func capitalized(_ text: String) -> String {
        guard let first = text.first, first.isLowercase else { return text }
        // A configuration key (`database.url must ...`) stays as written: it is what the user types.
        if let space = text.firstIndex(of: " "), text[..<space].contains(".") || text[..<space].contains("_") { return text }
        return first.uppercased() + text.dropFirst()
    }
}
