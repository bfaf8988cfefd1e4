//! The control plane's schema, one migration per change, applied in order on
//! start (`takt serve`) and by the tests. Migrations never change once they
//! have landed: a schema change is a new migration.
//!
//! Quantities and amounts are stored as `BIGINT` in millionths of a unit
//! (six decimal places): exact on both SQLite and PostgreSQL, and summable
//! and incrementable in SQL, which keeps stock positions race-free.

use sea_orm_migration::prelude::*;

mod m20261123_000001_control_plane;
mod m20261123_000003_quality;

/// Applies the control plane's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261123_000001_control_plane::Migration), Box::new(m20261123_000003_quality::Migration)]
    }
}
