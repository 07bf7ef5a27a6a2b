//! The database schema and the connection's setup: its DDL, how a larder
//! file is recognised, migrations, and the pragmas a store runs under. A file
//! that is not larder's, or is newer, is never touched.

use rusqlite::Connection;

use crate::error::{Result, StorageError};
use crate::footprint;
use crate::options::{Durability, StoreOptions};

/// `PRAGMA application_id` of a larder database: "LRDR".
pub const APPLICATION_ID: i32 = 0x4c52_4452;
/// `PRAGMA user_version`: the schema this build writes. `auto_vacuum` is not
/// part of it: it is how SQLite lays out the file, not what larder stores, a
/// file with or without it holds the same schema and every larder build reads
/// both; a file without it is switched on open (`enable_incremental_vacuum`).
pub const SCHEMA_VERSION: i32 = 1;

/// Schema version 1. `ns` is the namespace ('' is the root store's own);
/// `kind` says how `value` is encoded (see `value::ValueKind`); `size` is what
/// the entry counts toward the budget; `expires_at` is absolute, in the
/// store clock's milliseconds; `last_used` orders entries for LRU eviction.
const CREATE_V1: &str = "
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    kind INTEGER NOT NULL,
    value BLOB NOT NULL,
    size INTEGER NOT NULL,
    expires_at INTEGER,
    last_used INTEGER NOT NULL
);
CREATE UNIQUE INDEX entries_by_key ON entries (ns, key);
CREATE INDEX entries_by_expiry ON entries (expires_at, ns, size) WHERE expires_at IS NOT NULL;
CREATE INDEX entries_by_recency ON entries (last_used);
";

/// What a database holds, found by reading only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    /// Nothing yet (a new or empty file): `create` makes it larder's.
    Empty,
    /// larder's current schema.
    Current,
}

/// Reads the database's markers without writing anything. A database of
/// another program, or of a newer larder, is refused (the caller must then
/// leave the file untouched); a file that is not a database fails with
/// SQLite's NOTADB, which is CORRUPT.
pub fn inspect(conn: &Connection) -> Result<SchemaState> {
    let application_id: i32 = conn.pragma_query_value(None, "application_id", |row| row.get(0))?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;

    if application_id == 0 && version == 0 && objects == 0 {
        return Ok(SchemaState::Empty);
    }
    if application_id != APPLICATION_ID {
        return Err(StorageError::IncompatibleSchema(format!(
            "the database belongs to another program (application_id {application_id:#x}, larder's is {APPLICATION_ID:#x})"
        )));
    }
    if version > SCHEMA_VERSION {
        return Err(StorageError::IncompatibleSchema(format!(
            "the database has schema version {version}, newer than this larder's {SCHEMA_VERSION}; upgrade larder"
        )));
    }
    if version < SCHEMA_VERSION {
        return Err(StorageError::IncompatibleSchema(format!(
            "the database has schema version {version}, which this larder cannot migrate"
        )));
    }
    Ok(SchemaState::Current)
}

/// Creates larder's schema in an empty database, in one transaction, with
/// incremental vacuum, which SQLite can only switch on before the first table
/// (or by a `VACUUM`).
pub fn create(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         {CREATE_V1}
         PRAGMA application_id = {APPLICATION_ID};
         PRAGMA user_version = {SCHEMA_VERSION};
         COMMIT;"
    ))
    .inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })?;
    Ok(())
}

/// Switches on incremental vacuum in a database made without it (by larder
/// builds before it used it): the setting is recorded, then a `VACUUM`
/// rebuilds the file with it. Once, on open. In WAL mode the rebuilt file is
/// committed through the WAL like any transaction, so a crash during it
/// leaves the old file whole, and the next open does it again. Returns
/// whether the file was rebuilt.
pub fn enable_incremental_vacuum(conn: &Connection) -> Result<bool> {
    let mode: i32 = conn.pragma_query_value(None, "auto_vacuum", |row| row.get(0))?;
    if mode == AUTO_VACUUM_INCREMENTAL {
        return Ok(false);
    }
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
    Ok(true)
}

/// `PRAGMA auto_vacuum`'s value for INCREMENTAL.
const AUTO_VACUUM_INCREMENTAL: i32 = 2;

/// Readies a freshly opened connection: checks (reading only) that the
/// database is larder's or empty, leaving any other file untouched; for a
/// file, sets exclusive locking, WAL and the sync level the durability asks
/// for (`"full"`: the WAL is fsynced before a commit returns; `"normal"`:
/// only at checkpoints) and the WAL's bound; creates the schema if empty, or
/// switches on incremental vacuum in a file made without it. The inspection
/// comes first: `journal_mode = WAL` writes to the file.
pub fn prepare(conn: &Connection, options: &StoreOptions, is_file: bool) -> Result<()> {
    if is_file {
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    }
    let state = inspect(conn)?;
    if state == SchemaState::Empty {
        // Before WAL mode: switching to it writes the file's first page, after
        // which SQLite ignores a change of auto_vacuum (see `create`).
        create(conn)?;
    }
    if is_file {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Internal(format!("SQLite refused WAL mode (kept {mode})")));
        }
        let synchronous = match options.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        footprint::limit_wal(conn, options.max_size_bytes)?;
    }
    // The rebuild goes through the WAL: a copy of the whole file.
    if state == SchemaState::Current && enable_incremental_vacuum(conn)? && is_file {
        footprint::truncate_wal(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn an_empty_database_gets_the_schema_and_is_recognised_after() {
        let conn = Connection::open_in_memory().unwrap();
        prepare(&conn, &StoreOptions::default(), false).unwrap();
        let id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0)).unwrap();
        let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!((id, version), (APPLICATION_ID, SCHEMA_VERSION));
        let auto_vacuum: i32 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0)).unwrap();
        assert_eq!(auto_vacuum, AUTO_VACUUM_INCREMENTAL);
        prepare(&conn, &StoreOptions::default(), false).unwrap();
    }

    #[test]
    fn a_database_without_incremental_vacuum_is_switched_once_and_keeps_its_rows() {
        let conn = Connection::open_in_memory().unwrap();
        create(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO entries (ns, key, kind, value, size, last_used) VALUES ('', 'k', 0, x'31', 2, 1);
             PRAGMA auto_vacuum = NONE; VACUUM;",
        )
        .unwrap();
        let mode = || -> i32 { conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0)).unwrap() };
        assert_eq!(mode(), 0, "as larder made files before");
        assert!(enable_incremental_vacuum(&conn).unwrap());
        assert_eq!(mode(), AUTO_VACUUM_INCREMENTAL);
        assert!(!enable_incremental_vacuum(&conn).unwrap(), "once");
        let key: String = conn.query_row("SELECT key FROM entries", [], |r| r.get(0)).unwrap();
        assert_eq!(key, "k");
        assert_eq!(inspect(&conn).unwrap(), SchemaState::Current);
    }

    #[test]
    fn foreign_and_newer_databases_are_refused_untouched() {
        let foreign = Connection::open_in_memory().unwrap();
        foreign.execute_batch("CREATE TABLE notes(body TEXT)").unwrap();
        assert_eq!(
            prepare(&foreign, &StoreOptions::default(), false).unwrap_err().code(),
            ErrorCode::IncompatibleSchema
        );
        let tables: i64 = foreign.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).unwrap();
        assert_eq!(tables, 1);

        let newer = Connection::open_in_memory().unwrap();
        prepare(&newer, &StoreOptions::default(), false).unwrap();
        newer.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        assert_eq!(
            prepare(&newer, &StoreOptions::default(), false).unwrap_err().code(),
            ErrorCode::IncompatibleSchema
        );
    }

    fn file_connection(name: &str) -> (Connection, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("larder-core-{}-{name}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&path);
        (Connection::open(&path).unwrap(), path)
    }

    /// The journal mode as the file's header records it (bytes 18 and 19:
    /// 1 for a rollback journal, 2 for WAL).
    fn header_journal_mode(path: &std::path::Path) -> [u8; 2] {
        let bytes = std::fs::read(path).unwrap();
        [bytes[18], bytes[19]]
    }

    #[test]
    fn a_file_is_inspected_before_anything_writes_to_it() {
        let (foreign, path) = file_connection("foreign");
        foreign.execute_batch("CREATE TABLE notes(body TEXT)").unwrap();
        let before = std::fs::read(&path).unwrap();
        let error = prepare(&foreign, &StoreOptions::default(), true).unwrap_err();
        assert_eq!(error.code(), ErrorCode::IncompatibleSchema);
        drop(foreign);
        assert_eq!(std::fs::read(&path).unwrap(), before, "not a byte changed: no WAL switch, no schema");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_new_file_gets_the_schema_then_wal_and_the_sync_level() {
        let (conn, path) = file_connection("new");
        let options = StoreOptions { durability: Durability::Normal, ..StoreOptions::default() };
        prepare(&conn, &options, true).unwrap();
        let auto_vacuum: i32 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0)).unwrap();
        assert_eq!(auto_vacuum, AUTO_VACUUM_INCREMENTAL, "set before WAL mode wrote the first page");
        let synchronous: i32 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        assert_eq!(header_journal_mode(&path), [2, 2]);
        assert_eq!(inspect(&conn).unwrap(), SchemaState::Current);
        drop(conn);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("sqlite-wal"));
    }
}
