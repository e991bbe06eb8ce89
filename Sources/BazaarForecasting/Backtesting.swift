/// Rolling-origin evaluation: the final holdout and earlier windows of the same series.
///
/// A method (or a choice rule) tuned until it wins on the last `horizon` periods of a data set has, in effect,
/// seen them. Scoring it again with the origin moved back, on windows it was not tuned on, shows how much of the
/// win was the data set's and how much the method's. Window 0 is the usual holdout (the last `horizon` periods);
/// window w is the `horizon` periods that end w x `horizon` periods before the end, forecast from everything
/// before them.
public enum Backtesting {
    /// The training part and the held-out part of `y` for window `window`, or nil when fewer than `minimumTraining`
    /// periods would be left to fit on.
    public static func split(_ y: [Double], horizon: Int, window: Int, minimumTraining: Int = 9) -> (train: [Double], actual: [Double])? {
        let end = y.count - window * horizon, start = end - horizon
        guard horizon >= 1, window >= 0, start >= minimumTraining else { return nil }
        return (Array(y[..<start]), Array(y[start..<end]))
    }

    /// The accuracy of `forecast` (training values in, `horizon` forecasts out) on window `window` of every series
    /// long enough for it; series without variation to scale by are skipped, as in `Accuracy`.
    public static func accuracy(_ series: [[Double]], horizon: Int, window: Int, forecast: ([Double]) -> [Double]) -> [Accuracy] {
        series.compactMap { y in
            guard let (train, actual) = split(y, horizon: horizon, window: window) else { return nil }
            return Accuracy(train: train, actual: actual, forecast: forecast(train))
        }
    }
}
