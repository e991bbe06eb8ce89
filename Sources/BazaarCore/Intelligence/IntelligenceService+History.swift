import BazaarDomain

/// Daily demand rows into the histories the forecast and the thresholds' spans are read from: pure walks of the rows.
extension IntelligenceService {
    /// Units sold per day over the last `windowDays` complete days, stock-out days left out, from one store x
    /// product's daily demand rows (from its first day with movements in the window).
    static func history(_ days: [DemandDay], today: Int64, windowDays: Int64 = historyDays) -> (history: [Double], censoredDays: Int) {
        let inWindow = days.filter { $0.day >= today - windowDays }
        let firstDay = inWindow.map(\.day).min() ?? today
        let (sold, censored) = DemandHistory.daily(days: inWindow, firstDay: firstDay, lastDay: today - 1)
        return (zip(sold, censored).filter { !$0.1 }.map(\.0), censored.filter { $0 }.count)
    }

    /// `history(days, today:)` and `history(days, today:, windowDays: spanHistoryDays).history` from one walk of
    /// the rows: the pass reads a year of rows for every item, and walking them twice cost a tenth of its time. The
    /// shorter window is a suffix of the year's days: it starts at its first day with a row, and from a day with a
    /// row on, what is censored depends only on the rows (`DemandHistory.daily`). `DemandWindowsTests`.
    static func histories(_ days: [DemandDay], today: Int64) -> (history: [Double], censoredDays: Int, spanHistory: [Double]) {
        let inYear = days.filter { $0.day >= today - spanHistoryDays }
        guard let firstDay = inYear.lazy.map(\.day).min() else { return ([], 0, []) }
        let (sold, censored) = DemandHistory.daily(days: inYear, firstDay: firstDay, lastDay: today - 1)
        var spanHistory: [Double] = []
        spanHistory.reserveCapacity(sold.count)
        for i in sold.indices where !censored[i] { spanHistory.append(sold[i]) }
        // The forecast's window: from its first day with a row (none: empty, as `history` answers).
        guard let windowStart = inYear.lazy.map(\.day).filter({ $0 >= today - historyDays }).min(), windowStart <= today - 1 else {
            return ([], 0, spanHistory)
        }
        var history: [Double] = [], censoredDays = 0
        history.reserveCapacity(sold.count)
        for i in Int(windowStart - firstDay)..<sold.count {
            if censored[i] { censoredDays += 1 } else { history.append(sold[i]) }
        }
        return (history, censoredDays, spanHistory)
    }
}
