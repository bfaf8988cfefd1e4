//! sea-orm entities of the quality tables (migration `m20261123_000003_quality`).

macro_rules! no_relations {
    () => {
        /// This table's relations (joins are written out in the services).
        #[derive(Copy, Clone, Debug, sea_orm::EnumIter, sea_orm::DeriveRelation)]
        pub enum Relation {}

        impl sea_orm::ActiveModelBehavior for ActiveModel {}
    };
}

/// Per-item inspection settings.
pub mod quality_setting {
    use sea_orm::entity::prelude::*;

    /// One item's inspection policy and inspection time.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "quality_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub item: String,
        pub policy: String,
        pub inspection_seconds: i64,
        pub lots_received: i64,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

/// Inspection lots: stock in `quality_hold` awaiting a usage decision.
pub mod inspection_lot {
    use sea_orm::entity::prelude::*;

    /// One inspection lot.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inspection_lots")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub workflow_id: String,
        pub origin: String,
        pub item: String,
        pub location: String,
        pub lot: String,
        pub lines: String,
        pub quantity: i64,
        pub supply_order: Option<String>,
        pub supplier: Option<String>,
        pub receipt_movement: Option<i64>,
        pub reason: Option<String>,
        pub requested_by: String,
        pub sampling_plan: String,
        pub inspection_seconds: i64,
        pub status: String,
        pub step: String,
        pub released: i64,
        pub rejected: i64,
        pub scrapped: i64,
        pub decided_by: Option<String>,
        pub decided_at: Option<DateTimeUtc>,
        pub decision_note: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

/// Characteristic results recorded by inspectors.
pub mod inspection_result {
    use sea_orm::entity::prelude::*;

    /// One result of one characteristic.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inspection_results")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub inspection_lot_id: i64,
        pub characteristic: String,
        pub lower_limit: Option<String>,
        pub upper_limit: Option<String>,
        pub measured: Option<String>,
        pub passed: Option<bool>,
        pub nonconforming: Option<i64>,
        pub conforming: bool,
        pub inspector: String,
        pub recorded_at: DateTimeUtc,
    }
    no_relations!();
}

/// Alerts raised by workflows (escalations).
pub mod quality_alert {
    use sea_orm::entity::prelude::*;

    /// One alert.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "quality_alerts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub inspection_lot_id: i64,
        pub kind: String,
        pub message: String,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

/// Rejected receipts going back to the supplier.
pub mod supplier_return {
    use sea_orm::entity::prelude::*;

    /// One return-to-supplier record.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "supplier_returns")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub inspection_lot_id: i64,
        pub supply_order: Option<String>,
        pub supplier: Option<String>,
        pub item: String,
        pub lot: String,
        pub location: String,
        pub quantity: i64,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

/// Notifications recorded for the ERP (until the integration outbox exists).
pub mod erp_notification {
    use sea_orm::entity::prelude::*;

    /// One notification.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "erp_notifications")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub key: String,
        pub kind: String,
        pub reference: String,
        pub payload: String,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}
