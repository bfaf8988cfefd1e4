//! sea-orm entities, one module per table of `migrations`.
//!
//! Quantities, hours and amounts are `i64` millionths (see [`crate::qty`]);
//! enumerations are stored as their snake_case names.

macro_rules! no_relations {
    () => {
        /// This table's relations (joins are written out in the services).
        #[derive(Copy, Clone, Debug, sea_orm::EnumIter, sea_orm::DeriveRelation)]
        pub enum Relation {}

        impl sea_orm::ActiveModelBehavior for ActiveModel {}
    };
}

/// Items with their planning parameters.
pub mod item {
    use sea_orm::entity::prelude::*;

    /// An item row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: Option<String>,
        pub source: String,
        pub lead_time: i32,
        pub safety_stock: i64,
        pub lot_rule: String,
        pub lot_quantity: Option<i64>,
        pub lot_periods: Option<i32>,
        pub order_cost: Option<i64>,
        pub holding_cost: Option<i64>,
        pub lot_min: Option<i64>,
        pub lot_multiple: Option<i64>,
        pub lot_max: Option<i64>,
        pub unit_cost: Option<i64>,
        pub uom: Option<String>,
        pub allow_negative: bool,
        pub requires_inspection: bool,
        pub backflush: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

/// Versioned bills of materials (headers).
pub mod bom {
    use sea_orm::entity::prelude::*;

    /// A BOM version of one parent item.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "boms")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub parent: String,
        pub version: i32,
        pub valid_from: Option<Date>,
        pub valid_to: Option<Date>,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

/// Lines of a BOM version.
pub mod bom_line {
    use sea_orm::entity::prelude::*;

    /// One component of a BOM version.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bom_lines")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub bom_id: i64,
        pub line_no: i32,
        pub component: String,
        pub quantity: i64,
        pub scrap: i64,
    }
    no_relations!();
}

/// Work centres.
pub mod work_centre {
    use sea_orm::entity::prelude::*;

    /// A work centre with its capacity.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "work_centres")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: Option<String>,
        pub hours_per_day: i64,
        pub working_days: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

/// Routing operations (an item's routing is its operations in sequence).
pub mod routing_operation {
    use sea_orm::entity::prelude::*;

    /// One operation of an item's routing.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "routing_operations")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub item: String,
        pub sequence: i32,
        pub work_centre: String,
        pub description: Option<String>,
        pub setup_hours: i64,
        pub run_hours_per_unit: i64,
    }
    no_relations!();
}

/// Stocking locations.
pub mod location {
    use sea_orm::entity::prelude::*;

    /// A plant store, WIP area or distribution centre.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "locations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: Option<String>,
        pub kind: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

/// The append-only inventory movement ledger.
pub mod movement {
    use sea_orm::entity::prelude::*;

    /// One posted movement.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movements")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub kind: String,
        pub item: String,
        pub lot: String,
        pub quantity: i64,
        pub from_location: Option<String>,
        pub from_status: Option<String>,
        pub to_location: Option<String>,
        pub to_status: Option<String>,
        pub reason: Option<String>,
        pub reference: Option<String>,
        pub actor: String,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

/// On-hand positions maintained by the ledger.
pub mod position {
    use sea_orm::entity::prelude::*;

    /// Stock of one item at one location, lot and status.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "positions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub item: String,
        pub location: String,
        pub lot: String,
        pub status: String,
        pub quantity: i64,
    }
    no_relations!();
}

/// Independent demand: customer orders and forecasts.
pub mod demand {
    use sea_orm::entity::prelude::*;

    /// A customer order line or forecast.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "demands")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub item: String,
        pub due_date: Date,
        pub quantity: i64,
        pub kind: String,
        pub customer: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

/// Open supply: purchase and production orders (MRP's scheduled receipts).
pub mod supply_order {
    use sea_orm::entity::prelude::*;

    /// A purchase or production order and what has been received of it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "supply_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: String,
        pub item: String,
        pub supplier: Option<String>,
        pub quantity: i64,
        pub received: i64,
        pub due_date: Date,
        pub status: String,
        pub location: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

/// MRP runs with their inputs snapshot and results.
pub mod mrp_run {
    use sea_orm::entity::prelude::*;

    /// One MRP run.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mrp_runs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub kind: String,
        pub actor: String,
        pub created_at: DateTimeUtc,
        #[sea_orm(column_type = "Text")]
        pub parameters: String,
        #[sea_orm(column_type = "Text")]
        pub scenario: String,
        #[sea_orm(column_type = "Text")]
        pub result: String,
        pub planned_order_count: i32,
        pub exception_count: i32,
        pub plan_micros: i64,
    }
    no_relations!();
}

/// Planned orders of MRP runs, with their lifecycle status.
pub mod planned_order {
    use sea_orm::entity::prelude::*;

    /// One planned order.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "planned_orders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub run_id: i64,
        pub order_ref: String,
        pub item: String,
        pub kind: String,
        pub quantity: i64,
        pub release_date: Date,
        pub due_date: Date,
        pub status: String,
        pub status_changed_at: DateTimeUtc,
        pub status_changed_by: String,
    }
    no_relations!();
}

/// API tokens (only their SHA-256 is stored).
pub mod api_token {
    use sea_orm::entity::prelude::*;

    /// A token with its role.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub role: String,
        pub token_hash: String,
        pub created_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
    }
    no_relations!();
}

/// The audit trail: who wrote what, when.
pub mod audit {
    use sea_orm::entity::prelude::*;

    /// One audited write.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: DateTimeUtc,
        pub actor: String,
        pub role: String,
        pub action: String,
        pub entity: String,
        pub entity_id: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub detail: Option<String>,
    }
    no_relations!();
}

/// Stored first responses of requests sent with an `Idempotency-Key`.
pub mod idempotency {
    use sea_orm::entity::prelude::*;

    /// The first response to one key of one caller.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub actor: String,
        pub key: String,
        pub request_hash: String,
        pub status: i32,
        #[sea_orm(column_type = "Text")]
        pub response: String,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

/// Key/value settings, such as the default planning calendar.
pub mod setting {
    use sea_orm::entity::prelude::*;

    /// One setting.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        #[sea_orm(column_type = "Text")]
        pub value: String,
    }
    no_relations!();
}

/// Work orders: released production orders on the shop floor.
pub mod work_order {
    use sea_orm::entity::prelude::*;

    /// A work order.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "work_orders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub planned_order_id: Option<i64>,
        pub item: String,
        pub quantity: i64,
        pub start_date: Date,
        pub due_date: Date,
        pub stock_location: String,
        pub wip_location: String,
        pub receiving_location: String,
        pub over_completion: i64,
        pub status: String,
        pub received: i64,
        pub scrapped: i64,
        pub released_by: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

/// Component requirements of work orders (the BOM copied at release).
pub mod work_order_component {
    use sea_orm::entity::prelude::*;

    /// One component requirement.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "work_order_components")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub work_order_id: i64,
        pub line_no: i32,
        pub component: String,
        pub quantity_per: i64,
        pub required: i64,
        pub issued: i64,
        pub consumed: i64,
        pub backflush: bool,
    }
    no_relations!();
}

/// Operations of work orders (the routing copied at release).
pub mod work_order_operation {
    use sea_orm::entity::prelude::*;

    /// One operation with its progress.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "work_order_operations")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub work_order_id: i64,
        pub sequence: i32,
        pub work_centre: String,
        pub description: Option<String>,
        pub setup_hours: i64,
        pub run_hours_per_unit: i64,
        pub planned_start: Date,
        pub planned_finish: Date,
        pub status: String,
        pub arrived: i64,
        pub good: i64,
        pub scrap: i64,
        pub rework: i64,
        pub labour_hours: i64,
        pub machine_hours: i64,
        pub started_at: Option<DateTimeUtc>,
        pub completed_at: Option<DateTimeUtc>,
    }
    no_relations!();
}

/// Shop-floor reports against operations (append-only).
pub mod operation_report {
    use sea_orm::entity::prelude::*;

    /// One report from a terminal.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "operation_reports")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub work_order_id: i64,
        pub sequence: i32,
        pub event: String,
        pub good: i64,
        pub scrap: i64,
        pub rework: i64,
        pub labour_hours: i64,
        pub machine_hours: i64,
        pub reason: Option<String>,
        pub actor: String,
        pub at: DateTimeUtc,
    }
    no_relations!();
}

/// Transfer orders: stock moving between locations through `in_transit`.
pub mod transfer_order {
    use sea_orm::entity::prelude::*;

    /// A transfer order.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "transfer_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub item: String,
        pub lot: String,
        pub quantity: i64,
        pub from_location: String,
        pub to_location: String,
        pub due_date: Date,
        pub shipped: i64,
        pub received: i64,
        pub status: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

/// The shop event feed (what `GET /events` streams).
pub mod shop_event {
    use sea_orm::entity::prelude::*;

    /// One event.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shop_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: DateTimeUtc,
        pub kind: String,
        pub payload: String,
    }
    no_relations!();
}
