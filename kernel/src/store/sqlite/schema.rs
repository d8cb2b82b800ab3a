//! Opening the database file and bringing its schema up to date.
//!
//! The schema's version is SQLite's `PRAGMA user_version`: migration `n`
//! (the `n`-th entry of [`MIGRATIONS`]) runs once, in one transaction with
//! the version bump, so a crash mid-migration leaves the previous version.
//! Data directories made before the store ran on its own SQLite binding
//! were migrated by sqlx, which records applied migrations in a table
//! `_sqlx_migrations` and leaves `user_version` at 0: such a file is read
//! as being at the versions that table lists (its first migration is this
//! list's first, byte for byte), so it opens with its jobs intact.

use super::super::{StoreError, StoreErrorKind};
use super::SyncMode;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::time::Duration;

/// The migrations, oldest first; the schema version is how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_jobs.sql"),
    include_str!("../../../migrations/0002_inline_finished.sql"),
];

/// How long a connection waits for another's lock before failing (only
/// migrations and checkpoints ever contend with the writer).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, e.to_string())
}

/// Opens a connection to `path` in WAL mode with the durability of `sync`.
/// Checkpoints are left to the store (`wal_autocheckpoint=0`): run inside a
/// commit, their disk flushes would stall every caller of that group.
pub(super) fn connect(path: &Path, sync: SyncMode) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| unavailable(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    let mode: String =
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(unavailable)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(unavailable(format!(
            "{} cannot use WAL (journal mode {mode})",
            path.display()
        )));
    }
    let synchronous = match sync {
        SyncMode::Process => "NORMAL",
        SyncMode::Power => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous).map_err(unavailable)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(unavailable)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Brings the schema of `conn`'s database to the latest version.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let fail = |e: rusqlite::Error| unavailable(format!("migrating the job store: {e}"));
    let recorded: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(fail)?;
    let mut version = current_version(conn, recorded).map_err(fail)?;
    let pending = MIGRATIONS.get(version as usize..).ok_or_else(|| {
        unavailable(format!(
            "the job store's schema is version {version}, newer than this kernel's {}",
            MIGRATIONS.len()
        ))
    })?;
    for sql in pending {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate);
        let tx = tx.map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        version += 1;
        tx.pragma_update(None, "user_version", version).map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    if version != recorded {
        // A file sqlx migrated: from now on its version is where ours is.
        conn.pragma_update(None, "user_version", version).map_err(fail)?;
    }
    Ok(())
}

/// The schema version: `user_version`, or for a file sqlx migrated, the
/// number of migrations its table records as applied.
fn current_version(conn: &Connection, user_version: u32) -> rusqlite::Result<u32> {
    if user_version > 0 {
        return Ok(user_version);
    }
    let sqlx: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if sqlx.is_none() {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        [],
        |r| r.get(0),
    )
}
