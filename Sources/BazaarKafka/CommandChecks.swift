import BazaarCommands
import BazaarCore
import BazaarDomain
import KafkaClient

/// What `CommandIngestion` does to a batch before writing it: each message decoded, its command checked (the
/// replay window, the catalog, its id), the refusals worded as the problem objects an HTTP client would get.
/// Nothing here depends on an earlier batch's writes, so the ingestion checks the next batch while the one before
/// it is written; checks that grew old meanwhile are made again (`fresh`).
struct CommandChecks: Sendable {
    let stock: StockService
    /// Commands older than this (by their Kafka timestamp) are refused: their ids may have been forgotten, and
    /// applying them could apply them twice (`kafka.command_replay_window_hours`).
    let replayWindowMillis: Int64
    /// The problem object of a refusal (`Problem.json(for:)`): one wording of every refusal, whatever the channel.
    let describeRefusal: @Sendable (any Error) -> String
    let clock: WallClock

    /// How old a batch's checks may be when it is written (the batch before may have taken long: the database was
    /// away, say); older ones are made again. The replay window is so judged at most this long before a part's
    /// write begins (its transactions follow one another within seconds), far inside the hour by which command ids
    /// outlive the window (`MaintenanceService`): a command judged inside it is never found forgotten. At 1 s, the
    /// parts of a 20,000-command poll were checked twice as a rule (a poll takes about that long to write).
    static let maxAgeMillis: Int64 = 10_000

    /// One partition's checked commands: where they are in the batch, and the writes.
    struct Part: Sendable {
        var lane: PartitionLane
        var indices: [Int]
        var writes: StockService.CheckedWrites
    }

    /// A batch's commands decoded and checked, by partition, and the outcomes of those refused already.
    struct Checked: Sendable {
        var outcomes: [CommandIngestion.Outcome]
        var partitions: [Part]
        /// When the replay window was judged.
        var checkedAtMillis: Int64
    }

    /// Whether checks made at `checkedAtMillis` still stand (no older than `maxAgeMillis`).
    func isFresh(_ checkedAtMillis: Int64) -> Bool {
        clock.nowMillis() - checkedAtMillis <= Self.maxAgeMillis
    }

    func checked(_ messages: [KafkaMessage]) async -> Checked {
        var outcomes = [CommandIngestion.Outcome](repeating: .applied, count: messages.count)
        var byPartition: [PartitionLane: [(index: Int, id: String, command: MovementCommand)]] = [:]
        let now = clock.nowMillis()
        let oldest = now - replayWindowMillis
        for (index, message) in messages.enumerated() {
            if let timestamp = message.timestampMillis, timestamp > 0, timestamp < oldest {
                outcomes[index] = .rejected(problemJSON: describeRefusal(DomainError.invalid(
                    field: "timestamp",
                    message: "the command is older than the replay window (kafka.command_replay_window_hours); it may have been applied already, so it is not applied again: send a new command with a new id if it is still wanted")))
                continue
            }
            do {
                let (id, command) = try CommandMessage.decode(message.value)
                byPartition[PartitionLane(topic: message.topic, partition: message.partition), default: []].append((index, id, command))
            } catch {
                outcomes[index] = .rejected(problemJSON: describeRefusal(error))
            }
        }
        var partitions: [Part] = []
        for (lane, commands) in byPartition {
            partitions.append(Part(lane: lane, indices: commands.map(\.index),
                                   writes: await stock.checked(commands.map { ([$0.command], $0.id) },
                                                               actor: "kafka:\(CommandIngestion.topic)", scope: CommandIngestion.idempotencyScope)))
        }
        return Checked(outcomes: outcomes, partitions: partitions, checkedAtMillis: now)
    }
}
