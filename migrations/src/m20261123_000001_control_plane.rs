//! The first schema: master data, the inventory ledger and its positions,
//! demand and supply, MRP runs and planned orders, tokens, audit and
//! idempotency records.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates every table of the first control-plane release.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_control_plane"
    }
}

use crate::quantity;

fn quantity_null(name: &'static str) -> ColumnDef {
    big_integer_null(name)
}

fn created_updated(table: &mut TableCreateStatement) -> TableCreateStatement {
    table.col(timestamp_with_time_zone("created_at")).col(timestamp_with_time_zone("updated_at")).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut tables = vec![
            created_updated(
                Table::create()
                    .table("items")
                    .col(string("id").primary_key())
                    .col(string_null("name"))
                    .col(string("source"))
                    .col(integer("lead_time"))
                    .col(quantity("safety_stock"))
                    .col(string("lot_rule"))
                    .col(quantity_null("lot_quantity"))
                    .col(integer_null("lot_periods"))
                    .col(quantity_null("order_cost"))
                    .col(quantity_null("holding_cost"))
                    .col(quantity_null("lot_min"))
                    .col(quantity_null("lot_multiple"))
                    .col(quantity_null("lot_max"))
                    .col(quantity_null("unit_cost"))
                    .col(string_null("uom"))
                    .col(boolean("allow_negative"))
                    .col(boolean("requires_inspection")),
            ),
            Table::create()
                .table("boms")
                .col(big_pk_auto("id"))
                .col(string("parent"))
                .col(integer("version"))
                .col(date_null("valid_from"))
                .col(date_null("valid_to"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
            Table::create()
                .table("bom_lines")
                .col(big_pk_auto("id"))
                .col(big_integer("bom_id"))
                .col(integer("line_no"))
                .col(string("component"))
                .col(quantity("quantity"))
                .col(quantity("scrap"))
                .foreign_key(
                    ForeignKey::create()
                        .from("bom_lines", "bom_id")
                        .to("boms", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
            created_updated(
                Table::create()
                    .table("work_centres")
                    .col(string("id").primary_key())
                    .col(string_null("name"))
                    .col(quantity("hours_per_day"))
                    .col(string("working_days")),
            ),
            Table::create()
                .table("routing_operations")
                .col(big_pk_auto("id"))
                .col(string("item"))
                .col(integer("sequence"))
                .col(string("work_centre"))
                .col(string_null("description"))
                .col(quantity("setup_hours"))
                .col(quantity("run_hours_per_unit"))
                .take(),
            created_updated(
                Table::create()
                    .table("locations")
                    .col(string("id").primary_key())
                    .col(string_null("name"))
                    .col(string("kind")),
            ),
            Table::create()
                .table("movements")
                .col(big_pk_auto("id"))
                .col(string("kind"))
                .col(string("item"))
                .col(string("lot"))
                .col(quantity("quantity"))
                .col(string_null("from_location"))
                .col(string_null("from_status"))
                .col(string_null("to_location"))
                .col(string_null("to_status"))
                .col(string_null("reason"))
                .col(string_null("reference"))
                .col(string("actor"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
            Table::create()
                .table("positions")
                .col(big_pk_auto("id"))
                .col(string("item"))
                .col(string("location"))
                .col(string("lot"))
                .col(string("status"))
                .col(quantity("quantity"))
                .take(),
            created_updated(
                Table::create()
                    .table("demands")
                    .col(string("id").primary_key())
                    .col(string("item"))
                    .col(date("due_date"))
                    .col(quantity("quantity"))
                    .col(string("kind"))
                    .col(string_null("customer")),
            ),
            created_updated(
                Table::create()
                    .table("supply_orders")
                    .col(string("id").primary_key())
                    .col(string("kind"))
                    .col(string("item"))
                    .col(string_null("supplier"))
                    .col(quantity("quantity"))
                    .col(quantity("received"))
                    .col(date("due_date"))
                    .col(string("status"))
                    .col(string_null("location")),
            ),
            Table::create()
                .table("mrp_runs")
                .col(big_pk_auto("id"))
                .col(string("kind"))
                .col(string("actor"))
                .col(timestamp_with_time_zone("created_at"))
                .col(text("parameters"))
                .col(text("scenario"))
                .col(text("result"))
                .col(integer("planned_order_count"))
                .col(integer("exception_count"))
                .col(big_integer("plan_micros"))
                .take(),
            Table::create()
                .table("planned_orders")
                .col(big_pk_auto("id"))
                .col(big_integer("run_id"))
                .col(string("order_ref"))
                .col(string("item"))
                .col(string("kind"))
                .col(quantity("quantity"))
                .col(date("release_date"))
                .col(date("due_date"))
                .col(string("status"))
                .col(timestamp_with_time_zone("status_changed_at"))
                .col(string("status_changed_by"))
                .foreign_key(ForeignKey::create().from("planned_orders", "run_id").to("mrp_runs", "id"))
                .take(),
            Table::create()
                .table("api_tokens")
                .col(big_pk_auto("id"))
                .col(string("name"))
                .col(string("role"))
                .col(string("token_hash"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .take(),
            Table::create()
                .table("audit_log")
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("at"))
                .col(string("actor"))
                .col(string("role"))
                .col(string("action"))
                .col(string("entity"))
                .col(string_null("entity_id"))
                .col(text_null("detail"))
                .take(),
            Table::create().table("settings").col(string("key").primary_key()).col(text("value")).take(),
            Table::create()
                .table("idempotency_keys")
                .col(big_pk_auto("id"))
                .col(string("actor"))
                .col(string("key"))
                .col(string("request_hash"))
                .col(integer("status"))
                .col(text("response"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        ];
        for table in &mut tables {
            manager.create_table(table.if_not_exists().take()).await?;
        }
        let indexes = [
            ("ux_boms_parent_version", "boms", &["parent", "version"][..], true),
            ("ix_bom_lines_bom", "bom_lines", &["bom_id"][..], false),
            ("ux_routing_item_sequence", "routing_operations", &["item", "sequence"][..], true),
            ("ix_movements_item", "movements", &["item", "id"][..], false),
            ("ux_positions_key", "positions", &["item", "location", "lot", "status"][..], true),
            ("ix_positions_location", "positions", &["location"][..], false),
            ("ix_demands_item", "demands", &["item"][..], false),
            ("ix_supply_orders_item", "supply_orders", &["item"][..], false),
            ("ix_planned_orders_run", "planned_orders", &["run_id"][..], false),
            ("ux_api_tokens_hash", "api_tokens", &["token_hash"][..], true),
            ("ux_api_tokens_name", "api_tokens", &["name"][..], true),
            ("ux_idempotency_actor_key", "idempotency_keys", &["actor", "key"][..], true),
        ];
        crate::create_indexes(manager, &indexes).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "idempotency_keys",
            "audit_log",
            "api_tokens",
            "planned_orders",
            "mrp_runs",
            "supply_orders",
            "settings",
            "demands",
            "positions",
            "movements",
            "locations",
            "routing_operations",
            "work_centres",
            "bom_lines",
            "boms",
            "items",
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        Ok(())
    }
}
