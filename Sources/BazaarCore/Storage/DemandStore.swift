public import BazaarDomain

/// Daily demand per store x product, kept by the storage engine in the transaction of every ledger write (one
/// `DemandDay` row per store x product x day, see `DemandDays.rollup`), so that demand history is read without
/// reading the ledger. Invariant: the rows read equal the rollup of the ledger (`StorageContractTests`, both engines).
public protocol DemandStore: Sendable {
    /// One store x product's rows from `sinceDay` on, in day order.
    func demandDays(storeID: String, productID: String, sinceDay: Int64) async throws -> [DemandDay]
    /// The rows of one store from `sinceDay` on, each product's together and in day order (products in no set
    /// order), in one query (a few for a long list): of `productIDs` only, or of every product of the store when nil.
    func demandDays(storeID: String, productIDs: [String]?, sinceDay: Int64) async throws -> [DemandDay]
    /// Units sold net of returns per store per day from `sinceDay` on, for a page of stores, in one query. A day
    /// with no sale or return in a store is absent (zero).
    func storeDemandTrend(storeIDs: [String], sinceDay: Int64) async throws -> [StoreDemandPoint]
}

/// One point of a store's demand trend.
public struct StoreDemandPoint: Sendable, Equatable {
    public var storeID: String
    public var day: Int64
    /// Units sold minus units returned that day, over all the store's products.
    public var units: Int64

    public init(storeID: String, day: Int64, units: Int64) {
        self.storeID = storeID
        self.day = day
        self.units = units
    }
}
