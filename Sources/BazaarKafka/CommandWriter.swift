import BazaarCore
import KafkaClient

/// Writes one partition's part of a batch when its turn has come: in one transaction (`StockService.writeInOrder`:
/// several, one after the other, for more than `maxWritesPerTransaction`), in the partition's order; the
/// commands checked again first if their checks grew old while the part waited; those the database could not take
/// (it is away) written again each second, in the same order, until it takes them or the task is cancelled.
struct CommandWriter: Sendable {
    let stock: StockService
    let checks: CommandChecks

    func write(_ part: CommandChecks.Part, checkedAtMillis: Int64, of messages: [KafkaMessage]) async -> [(index: Int, outcome: CommandIngestion.Outcome)] {
        var outcomes = checks.isFresh(checkedAtMillis)
            ? zip(part.indices, await stock.writeInOrder(part.writes)).map { index, result in (index: index, outcome: outcome(of: result)) }
            : await checkedAgainAndWritten(part.indices, of: messages)
        while !Task.isCancelled {
            let waiting = outcomes.indices.filter { outcomes[$0].outcome.isUnavailable }
            if waiting.isEmpty { break }
            try? await Task.sleep(for: .seconds(1))
            let again = await checkedAgainAndWritten(waiting.map { outcomes[$0].index }, of: messages)
            for (position, retried) in zip(waiting, again) { outcomes[position].outcome = retried.outcome }
        }
        return outcomes
    }

    /// The messages at `indices` checked again now, and written in their order (`StockService.writeInOrder`).
    private func checkedAgainAndWritten(_ indices: [Int], of messages: [KafkaMessage]) async -> [(index: Int, outcome: CommandIngestion.Outcome)] {
        let again = await checks.checked(indices.map { messages[$0] })
        var outcomes = again.outcomes
        for part in again.partitions {
            for (index, result) in zip(part.indices, await stock.writeInOrder(part.writes)) { outcomes[index] = outcome(of: result) }
        }
        return Array(zip(indices, outcomes))
    }

    private func outcome(of result: Result<WriteReceipt, any Error>) -> CommandIngestion.Outcome {
        switch result {
        case .success: .applied
        case .failure(let error) where error is StorageUnavailable: .unavailable
        case .failure(let error): .rejected(problemJSON: checks.describeRefusal(error))
        }
    }
}
