import BazaarDomain
import Testing

/// Issue 15: the consumers of the movement topic tell its event types apart by a byte search before parsing.
@Suite("Stock events on the movement topic") struct StockEventKindTests {
    @Test func eachKindOfEventIsReadOnlyByItsOwnReader() {
        let reservation = #"{"specversion":"1.0","type":"bazaar.stock.reservation","bazaarrevision":"12","data":{"store_id":"S1","product_id":"P1"}}"#
        let transfer = #"{"specversion":"1.0","type":"bazaar.stock.transfer","bazaarrevisions":"P2:9","data":{"to_store_id":"S2"}}"#
        let order = #"{"specversion":"1.0","type":"bazaar.stock.purchase-order","bazaarrevisions":"P3:4,P4:5","data":{"store_id":"S3"}}"#
        let movement = #"{"specversion":"1.0","type":"bazaar.stock.movement","data":{"store_id":"S1","product_id":"P1"}}"#
        // The type's text inside a nested object is not the event's type (the byte search finds it; the parse decides).
        let disguised = #"{"specversion":"1.0","type":"bazaar.stock.movement","x":{"type":"bazaar.stock.reservation"},"data":{}}"#
        #expect(ReservationEvent.stockChange(in: reservation).map { "\($0.storeID) \($0.productID) \($0.revision)" } == "S1 P1 12")
        #expect(TransferEvent.stockChange(in: transfer).map { "\($0.storeID) \($0.productID) \($0.revision)" } == "S2 P2 9")
        #expect(PurchaseOrderEvent.stockChanges(in: order).map { "\($0.storeID) \($0.rows.map { "\($0.productID):\($0.revision)" })" }
                == #"S3 ["P3:4", "P4:5"]"#)
        for other in [transfer, order, movement, disguised, "", "not json"] { #expect(ReservationEvent.stockChange(in: other) == nil) }
        for other in [reservation, order, movement, disguised] { #expect(TransferEvent.stockChange(in: other) == nil) }
        for other in [reservation, transfer, movement, disguised] { #expect(PurchaseOrderEvent.stockChanges(in: other) == nil) }
    }
}
