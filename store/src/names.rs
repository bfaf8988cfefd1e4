//! The closed vocabularies of the control plane (item sources, stock
//! statuses, movement kinds, ...), stored and sent as snake_case names.

use wip::names;

pub use wip::{OperationEvent, OperationStatus, WorkOrderStatus};

names! {
    /// How an item is supplied.
    Source {
        /// Produced in-house.
        Make = "make",
        /// Purchased.
        Buy = "buy",
        /// A kit never stocked as an order.
        Phantom = "phantom",
    }
}

names! {
    /// Lot-sizing rules (see the scenario format).
    LotRule {
        /// Order the net requirement.
        LotForLot = "lot_for_lot",
        /// Multiples of a fixed lot.
        Fixed = "fixed",
        /// Cover several periods.
        PeriodOrder = "period_order",
        /// Economic order quantity.
        Eoq = "eoq",
    }
}

names! {
    /// Stock status of a position.
    StockStatus {
        /// Free to use; the only stock MRP nets.
        Available = "available",
        /// Awaiting a quality decision; MRP sees it as `on_hold`.
        QualityHold = "quality_hold",
        /// Rejected or otherwise unusable.
        Blocked = "blocked",
        /// Shipped by a transfer order, not yet received at this location.
        InTransit = "in_transit",
    }
}

names! {
    /// Kinds of inventory movement.
    MovementKind {
        /// Goods received from outside (purchase order or other).
        Receipt = "receipt",
        /// Goods issued out (to production or a customer).
        Issue = "issue",
        /// Moved between locations and/or statuses.
        Transfer = "transfer",
        /// A stock count correction, up or down.
        Adjustment = "adjustment",
        /// Finished goods received from production.
        ProductionReceipt = "production_receipt",
        /// Destroyed or unusable stock written off.
        Scrap = "scrap",
    }
}

names! {
    /// Kinds of stocking location.
    LocationKind {
        /// A plant's stores.
        PlantStore = "plant_store",
        /// A work-in-process area on the shop floor.
        WipArea = "wip_area",
        /// A distribution centre.
        DistributionCentre = "distribution_centre",
    }
}

names! {
    /// Independent demand kinds.
    DemandKind {
        /// A customer order.
        Order = "order",
        /// A forecast, consumed by orders in its bucket.
        Forecast = "forecast",
    }
}

names! {
    /// Kinds of supply order.
    SupplyKind {
        /// Bought from a supplier.
        Purchase = "purchase",
        /// Made in-house.
        Production = "production",
    }
}

names! {
    /// Status of a supply order.
    SupplyStatus {
        /// Expecting receipts.
        Open = "open",
        /// Fully received or closed by hand.
        Closed = "closed",
        /// Cancelled.
        Cancelled = "cancelled",
    }
}

names! {
    /// Lifecycle of a planned order.
    PlannedStatus {
        /// As MRP proposed it; replaced by the next run.
        Proposed = "proposed",
        /// Fixed by a planner: later runs treat it as a scheduled receipt.
        Firmed = "firmed",
        /// Released for execution (work order or purchase requisition).
        Released = "released",
        /// Handed to the ERP.
        SentToErp = "sent_to_erp",
        /// Withdrawn.
        Cancelled = "cancelled",
    }
}

names! {
    /// What an API token may do.
    Role {
        /// Master data, demand and supply, MRP runs, planned orders.
        Planner = "planner",
        /// Shop floor: stock movements.
        Operator = "operator",
        /// Quality: inspection and stock status.
        Inspector = "inspector",
        /// The ERP integration: master data, demand, supply, receipts.
        Erp = "erp",
        /// Everything, including tokens.
        Admin = "admin",
    }
}

names! {
    /// Whether an MRP run planned live data or a what-if copy of it.
    RunKind {
        /// Planned from the database as it is.
        Live = "live",
        /// Planned from the database with overrides; changes nothing.
        WhatIf = "what_if",
    }
}

names! {
    /// Lifecycle of a transfer order.
    TransferStatus {
        /// Nothing in transit, more to ship.
        Open = "open",
        /// Stock shipped and not yet received.
        InTransit = "in_transit",
        /// Everything shipped has arrived.
        Received = "received",
        /// Withdrawn before shipping.
        Cancelled = "cancelled",
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from the `names!` macro
impl Default for LotRule {
    fn default() -> Self {
        LotRule::LotForLot
    }
}
