@testable import BazaarCore
import Testing

/// The plan's actions read a page from just before each named product (`ReplenishmentActions.justBefore`): the
/// bound must let through exactly the ids from the named one on (the engines page by `product_id > after`, byte by
/// byte), whatever their widths. Starting after the id's prefix instead read every item between the prefix and it.
@Suite struct ReplenishmentPagingTests {
    @Test(arguments: ["SKU-9", "SKU-10", "A", "a-", "Z.9", "P1", "x:y_z", "9"])
    func aPageStartsAtTheNamedProduct(_ named: String) {
        let ids = ["SKU-", "SKU-1", "SKU-10", "SKU-8zz", "SKU-8", "SKU-9", "SKU-90", "A", "A-", "a", "a-", "a-z", "Z", "Z.8zzzz",
                   "Z.9", "P", "P0", "P1", "P10", "x:y", "x:y_z", "x:y_z0", "8zzz", "9", "90", ".", "-", ":", "_"]
        let after = ReplenishmentActions.justBefore(named)
        for id in ids {
            #expect(Array(id.utf8).lexicographicallyPrecedes(Array(after.utf8)) == Array(id.utf8).lexicographicallyPrecedes(Array(named.utf8)),
                    "\(id) against \(named) (after \(after))")
        }
        #expect(Array(after.utf8).lexicographicallyPrecedes(Array(named.utf8)))
    }
}
