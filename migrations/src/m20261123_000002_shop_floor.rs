//! The shop floor: work orders with their component requirements and
//! operations, operation reports, transfer orders for finished-goods
//! distribution, the shop event feed, and the items' backflush setting.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates the shop-floor tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_shop_floor"
    }
}

use crate::quantity;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("items").add_column(boolean("backflush").default(false)).take())
            .await?;
        let mut tables = vec![
            Table::create()
                .table("work_orders")
                .col(big_pk_auto("id"))
                .col(big_integer_null("planned_order_id"))
                .col(string("item"))
                .col(quantity("quantity"))
                .col(date("start_date"))
                .col(date("due_date"))
                .col(string("stock_location"))
                .col(string("wip_location"))
                .col(string("receiving_location"))
                .col(quantity("over_completion"))
                .col(string("status"))
                .col(quantity("received"))
                .col(quantity("scrapped"))
                .col(string("released_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .take(),
            Table::create()
                .table("work_order_components")
                .col(big_pk_auto("id"))
                .col(big_integer("work_order_id"))
                .col(integer("line_no"))
                .col(string("component"))
                .col(quantity("quantity_per"))
                .col(quantity("required"))
                .col(quantity("issued"))
                .col(quantity("consumed"))
                .col(boolean("backflush"))
                .foreign_key(
                    ForeignKey::create().from("work_order_components", "work_order_id").to("work_orders", "id"),
                )
                .take(),
            Table::create()
                .table("work_order_operations")
                .col(big_pk_auto("id"))
                .col(big_integer("work_order_id"))
                .col(integer("sequence"))
                .col(string("work_centre"))
                .col(string_null("description"))
                .col(quantity("setup_hours"))
                .col(quantity("run_hours_per_unit"))
                .col(date("planned_start"))
                .col(date("planned_finish"))
                .col(string("status"))
                .col(quantity("arrived"))
                .col(quantity("good"))
                .col(quantity("scrap"))
                .col(quantity("rework"))
                .col(quantity("labour_hours"))
                .col(quantity("machine_hours"))
                .col(timestamp_with_time_zone_null("started_at"))
                .col(timestamp_with_time_zone_null("completed_at"))
                .foreign_key(
                    ForeignKey::create().from("work_order_operations", "work_order_id").to("work_orders", "id"),
                )
                .take(),
            Table::create()
                .table("operation_reports")
                .col(big_pk_auto("id"))
                .col(big_integer("work_order_id"))
                .col(integer("sequence"))
                .col(string("event"))
                .col(quantity("good"))
                .col(quantity("scrap"))
                .col(quantity("rework"))
                .col(quantity("labour_hours"))
                .col(quantity("machine_hours"))
                .col(string_null("reason"))
                .col(string("actor"))
                .col(timestamp_with_time_zone("at"))
                .take(),
            Table::create()
                .table("transfer_orders")
                .col(string("id").primary_key())
                .col(string("item"))
                .col(string("lot"))
                .col(quantity("quantity"))
                .col(string("from_location"))
                .col(string("to_location"))
                .col(date("due_date"))
                .col(quantity("shipped"))
                .col(quantity("received"))
                .col(string("status"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .take(),
            Table::create()
                .table("shop_events")
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("at"))
                .col(string("kind"))
                .col(text("payload"))
                .take(),
        ];
        for table in &mut tables {
            manager.create_table(table.if_not_exists().take()).await?;
        }
        let indexes = [
            ("ux_work_orders_planned_order", "work_orders", &["planned_order_id"][..], true),
            ("ix_work_orders_status", "work_orders", &["status"][..], false),
            ("ix_wo_components_order", "work_order_components", &["work_order_id"][..], false),
            ("ux_wo_operations_order_seq", "work_order_operations", &["work_order_id", "sequence"][..], true),
            ("ix_wo_operations_centre", "work_order_operations", &["work_centre", "status"][..], false),
            ("ix_operation_reports_order", "operation_reports", &["work_order_id", "sequence"][..], false),
            ("ix_transfer_orders_status", "transfer_orders", &["status"][..], false),
        ];
        crate::create_indexes(manager, &indexes).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "shop_events",
            "transfer_orders",
            "operation_reports",
            "work_order_operations",
            "work_order_components",
            "work_orders",
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        manager.alter_table(Table::alter().table("items").drop_column("backflush").take()).await?;
        Ok(())
    }
}
