//! Quality: per-item inspection settings, inspection lots (from receipts and
//! from holds on existing stock) with their workflow step and usage
//! decision, characteristic results, escalation alerts, returns to the
//! supplier, and the notifications recorded for the ERP.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates the quality tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000003_quality"
    }
}

/// Millionths of a unit (see the crate docs).
fn quantity(name: &'static str) -> ColumnDef {
    big_integer(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut tables = vec![
            Table::create()
                .table("quality_settings")
                .col(string("item").primary_key())
                .col(text("policy"))
                .col(big_integer("inspection_seconds"))
                .col(big_integer("lots_received"))
                .col(timestamp_with_time_zone("updated_at"))
                .take(),
            Table::create()
                .table("inspection_lots")
                .col(big_pk_auto("id"))
                .col(string("workflow_id"))
                .col(string("origin"))
                .col(string("item"))
                .col(string("location"))
                .col(string("lot"))
                .col(text("lines"))
                .col(quantity("quantity"))
                .col(string_null("supply_order"))
                .col(string_null("supplier"))
                .col(big_integer_null("receipt_movement"))
                .col(string_null("reason"))
                .col(string("requested_by"))
                .col(text("sampling_plan"))
                .col(big_integer("inspection_seconds"))
                .col(string("status"))
                .col(string("step"))
                .col(quantity("released"))
                .col(quantity("rejected"))
                .col(quantity("scrapped"))
                .col(string_null("decided_by"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(string_null("decision_note"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .take(),
            Table::create()
                .table("inspection_results")
                .col(big_pk_auto("id"))
                .col(big_integer("inspection_lot_id"))
                .col(string("characteristic"))
                .col(string_null("lower_limit"))
                .col(string_null("upper_limit"))
                .col(string_null("measured"))
                .col(boolean_null("passed"))
                .col(big_integer_null("nonconforming"))
                .col(boolean("conforming"))
                .col(string("inspector"))
                .col(timestamp_with_time_zone("recorded_at"))
                .foreign_key(
                    ForeignKey::create().from("inspection_results", "inspection_lot_id").to("inspection_lots", "id"),
                )
                .take(),
            Table::create()
                .table("quality_alerts")
                .col(big_pk_auto("id"))
                .col(big_integer("inspection_lot_id"))
                .col(string("kind"))
                .col(text("message"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create().from("quality_alerts", "inspection_lot_id").to("inspection_lots", "id"),
                )
                .take(),
            Table::create()
                .table("supplier_returns")
                .col(big_pk_auto("id"))
                .col(big_integer("inspection_lot_id"))
                .col(string_null("supply_order"))
                .col(string_null("supplier"))
                .col(string("item"))
                .col(string("lot"))
                .col(string("location"))
                .col(quantity("quantity"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create().from("supplier_returns", "inspection_lot_id").to("inspection_lots", "id"),
                )
                .take(),
            Table::create()
                .table("erp_notifications")
                .col(big_pk_auto("id"))
                .col(string("key"))
                .col(string("kind"))
                .col(string("reference"))
                .col(text("payload"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        ];
        for table in &mut tables {
            manager.create_table(table.if_not_exists().take()).await?;
        }
        let indexes = [
            ("ux_inspection_lots_workflow", "inspection_lots", &["workflow_id"][..], true),
            ("ix_inspection_lots_status", "inspection_lots", &["status", "id"][..], false),
            ("ix_inspection_results_lot", "inspection_results", &["inspection_lot_id"][..], false),
            ("ux_quality_alerts_lot_kind", "quality_alerts", &["inspection_lot_id", "kind"][..], true),
            ("ux_supplier_returns_lot", "supplier_returns", &["inspection_lot_id"][..], true),
            ("ux_erp_notifications_key", "erp_notifications", &["key"][..], true),
        ];
        for (name, table, columns, unique) in indexes {
            let mut index = Index::create();
            index.name(name).table(table).if_not_exists();
            for column in columns {
                index.col(*column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "erp_notifications",
            "supplier_returns",
            "quality_alerts",
            "inspection_results",
            "inspection_lots",
            "quality_settings",
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        Ok(())
    }
}
