/// API key roles (DESIGN.md): what a caller may do.
public enum Role: String, Sendable, Codable, CaseIterable {
    /// Everything, including API keys.
    case admin
    /// Read and write every store, and the catalog.
    case manager
    /// Read and write only the stores listed on the key.
    case store
    /// Read every store.
    case reader
}

/// The authenticated caller: an API key's identity and scope, never its secret.
public struct Principal: Sendable, Equatable {
    public let keyID: String
    /// Recorded as the `actor` of every movement this caller makes.
    public let name: String
    public let role: Role
    public let stores: Set<String>

    public init(keyID: String, name: String, role: Role, stores: Set<String>) {
        self.keyID = keyID
        self.name = name
        self.role = role
        self.stores = stores
    }
}

/// Everything an endpoint can ask permission for.
public enum Action: Sendable, Equatable {
    case readStock(storeID: String)
    case writeStock(storeID: String)
    /// Reads that span every store (stock of a product across stores, the change feed, unfiltered audit).
    case readAllStores
    case readCatalog
    case writeCatalog
    /// Alert subscriptions (webhooks).
    case manageWebhooks
    case manageKeys
}

extension Principal {
    public func may(_ action: Action) -> Bool {
        switch (role, action) {
        case (.admin, _): true
        case (.manager, .manageKeys): false
        case (.manager, _): true
        case (.reader, .readStock), (.reader, .readAllStores), (.reader, .readCatalog): true
        case (.reader, _): false
        case (.store, .readStock(let store)), (.store, .writeStock(let store)): stores.contains(store)
        case (.store, .readCatalog): true
        case (.store, _): false
        }
    }

    /// Throws `forbidden` with a message naming the missing permission.
    public func require(_ action: Action) throws(DomainError) {
        guard may(action) else {
            let what: String
            switch action {
            case .readStock(let s): what = "read stock of store \(s)"
            case .writeStock(let s): what = "write stock of store \(s)"
            case .readAllStores: what = "read across all stores (store keys must name one of their stores)"
            case .readCatalog: what = "read the catalog"
            case .writeCatalog: what = "change the catalog"
            case .manageWebhooks: what = "manage webhooks"
            case .manageKeys: what = "manage API keys"
            }
            throw .forbidden("API key '\(name)' with role \(role.rawValue) may not \(what)")
        }
    }
}
