//! The control plane's schema, one migration per change, applied in order on
//! start (`takt serve`) and by the tests. Migrations never change once they
//! have landed: a schema change is a new migration.
//!
//! Quantities and amounts are stored as `BIGINT` in millionths of a unit
//! (six decimal places): exact on both SQLite and PostgreSQL, and summable
//! and incrementable in SQL, which keeps stock positions race-free.

use sea_orm_migration::prelude::*;

mod m20261123_000001_control_plane;
mod m20261123_000002_shop_floor;
mod m20261123_000003_quality;

/// Millionths of a unit (see the crate docs).
pub(crate) fn quantity(name: &'static str) -> ColumnDef {
    sea_orm_migration::schema::big_integer(name)
}

/// An index to create: name, table, columns, unique.
pub(crate) type IndexSpec = (&'static str, &'static str, &'static [&'static str], bool);

/// Creates indexes that do not exist yet.
pub(crate) async fn create_indexes(manager: &SchemaManager<'_>, indexes: &[IndexSpec]) -> Result<(), DbErr> {
    for (name, table, columns, unique) in indexes {
        let mut index = Index::create();
        index.name(*name).table(*table).if_not_exists();
        for column in *columns {
            index.col(*column);
        }
        if *unique {
            index.unique();
        }
        manager.create_index(index).await?;
    }
    Ok(())
}

/// Applies the control plane's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_control_plane::Migration),
            Box::new(m20261123_000002_shop_floor::Migration),
            Box::new(m20261123_000003_quality::Migration),
        ]
    }
}
