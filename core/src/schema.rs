//! The database schema and the connection's setup: its DDL, how a larder
//! file is recognised, migrations, and the pragmas a store runs under. A file
//! that is not larder's, or is newer, is never touched.

use rusqlite::config::DbConfig;
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
pub const SCHEMA_VERSION: i32 = 3;

/// Schema version 2. `id` is the entry's recency stamp: every write and every
/// persisted read moves the row to a new, larger id, so LRU order is rowid
/// order and no index of its own has to change on each write (version 1 kept
/// it in a `last_used` column with its own index: one more B-tree page per
/// write). `ns` is the namespace ('' is the root store's own); `kind` says how
/// `value` is encoded (see `value::ValueKind`); `size` is what the entry counts
/// toward the budget; `expires_at` is absolute, in the store clock's
/// milliseconds.
const CREATE_TABLE: &str = "
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    kind INTEGER NOT NULL,
    value BLOB NOT NULL,
    size INTEGER NOT NULL,
    expires_at INTEGER
);";
const CREATE_INDEXES: &str = "
CREATE UNIQUE INDEX entries_by_key ON entries (ns, key);
CREATE INDEX entries_by_expiry ON entries (expires_at, ns, size) WHERE expires_at IS NOT NULL;
";

/// Schema version 3 adds `closed_ledgers`: each namespace's rows and bytes as
/// the store that last closed the file cleanly counted them, so the next open
/// reads them instead of every page of the table (`SUM(size)` reads each row,
/// and the rows hold the values). They stand only while nothing has changed
/// an entry's count or size since: larder's first write after an open that
/// does deletes them in its own transaction, and any other program's write
/// to `entries` does through these triggers (larder's connection runs with
/// triggers off: `prepare`). No rows: count again from the table.
const CREATE_CLOSED_LEDGERS: &str = "
CREATE TABLE closed_ledgers (
    ns TEXT PRIMARY KEY,
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER closed_ledgers_after_insert AFTER INSERT ON entries
    WHEN EXISTS (SELECT 1 FROM closed_ledgers) BEGIN DELETE FROM closed_ledgers; END;
CREATE TRIGGER closed_ledgers_after_update AFTER UPDATE ON entries
    WHEN EXISTS (SELECT 1 FROM closed_ledgers) BEGIN DELETE FROM closed_ledgers; END;
CREATE TRIGGER closed_ledgers_after_delete AFTER DELETE ON entries
    WHEN EXISTS (SELECT 1 FROM closed_ledgers) BEGIN DELETE FROM closed_ledgers; END;
";

/// What a database holds, found by reading only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    /// Nothing yet (a new or empty file): `prepare` makes it larder's.
    Empty,
    /// Schema version 1: `prepare` migrates it.
    Version1,
    /// Schema version 2 (no closed ledgers): `prepare` migrates it.
    Version2,
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
    match version {
        1 => Ok(SchemaState::Version1),
        2 => Ok(SchemaState::Version2),
        SCHEMA_VERSION => Ok(SchemaState::Current),
        _ => Err(StorageError::IncompatibleSchema(format!(
            "the database has schema version {version}, which this larder cannot migrate"
        ))),
    }
}

/// The page size of a new database. Every page a write changes goes whole to
/// the WAL (then to the file). Measured through larder's VFS, a 1 KB `set`
/// writes 12.9 KB with 4 KiB pages, 20.8 KB with SQLite's wasm default of
/// 8 KiB, and 15.6 KB with 2 KiB, where such rows fill a leaf with one or two
/// and every insert rebalances two leaves of the table and two of the index.
/// In memory, 2 KiB pages cost more still: a row moved by an update often
/// empties its page, and an in-memory database then scans its whole page
/// cache at commit.
const PAGE_SIZE: i32 = 4096;

/// How a new database lays out its pages: the page size and, for a file,
/// incremental vacuum. SQLite fixes both once the first page is written
/// (switching to WAL does) or the first table made; only a `VACUUM` changes
/// them after. A database in memory has no file to give pages back to: its
/// pages live in the module's memory, which never shrinks, and the pages it
/// frees stay on its free list for its next inserts. Incremental vacuum
/// would only cost it: a pointer-map entry written for every page it
/// allocates or moves (about 5% of a `set` in memory, profiled).
fn lay_out(conn: &Connection, is_file: bool) -> Result<()> {
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    if is_file {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    Ok(())
}

/// Creates larder's schema in an empty database, in one transaction.
pub fn create(conn: &Connection) -> Result<()> {
    in_one_transaction(
        conn,
        &format!(
            "{CREATE_TABLE}{CREATE_INDEXES}{CREATE_CLOSED_LEDGERS}
             PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = {SCHEMA_VERSION};"
        ),
    )
}

/// Turns a version-1 database into the current schema, in one transaction
/// (a crash leaves one format or the other, never a mix): the rows copied in
/// recency order, each numbered by its rank, so version 1's stamps become
/// ids without a collision; the old table and its indexes dropped; the
/// closed ledgers of version 3 made, empty.
pub fn migrate_from_v1(conn: &Connection) -> Result<()> {
    in_one_transaction(
        conn,
        &format!(
            "ALTER TABLE entries RENAME TO entries_v1;
             DROP INDEX entries_by_key;
             DROP INDEX entries_by_expiry;
             DROP INDEX entries_by_recency;
             {CREATE_TABLE}
             INSERT INTO entries (id, ns, key, kind, value, size, expires_at)
                 SELECT row_number() OVER (ORDER BY last_used, id), ns, key, kind, value, size, expires_at
                 FROM entries_v1;
             DROP TABLE entries_v1;
             {CREATE_INDEXES}{CREATE_CLOSED_LEDGERS}
             PRAGMA user_version = {SCHEMA_VERSION};"
        ),
    )
}

/// Turns a version-2 database into the current schema, in one transaction:
/// the closed ledgers made, empty (the next open counts from the table).
pub fn migrate_from_v2(conn: &Connection) -> Result<()> {
    in_one_transaction(conn, &format!("{CREATE_CLOSED_LEDGERS} PRAGMA user_version = {SCHEMA_VERSION};"))
}

fn in_one_transaction(conn: &Connection, sql: &str) -> Result<()> {
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {sql} COMMIT;")).inspect_err(|_| {
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
/// migrates an older one, or switches on incremental vacuum in a file
/// made without it. The inspection comes first: `journal_mode = WAL` writes
/// to the file. A new file's schema is made after the switch, in one commit
/// through the WAL: a crash before it leaves an empty database, made again.
/// Triggers are off on larder's connection: they are there for other
/// programs' writes (`CREATE_CLOSED_LEDGERS`), and would cost each of
/// larder's row writes a look at `closed_ledgers`.
pub fn prepare(conn: &Connection, options: &StoreOptions, is_file: bool) -> Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    if is_file {
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    }
    let state = inspect(conn)?;
    if state == SchemaState::Empty {
        lay_out(conn, is_file)?;
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
    // A migration or a switch to incremental vacuum goes through the WAL, a
    // copy of the whole table or file, and leaves free pages: given back and
    // checkpointed at once.
    let migrated = state == SchemaState::Version1;
    match state {
        SchemaState::Empty => create(conn)?,
        SchemaState::Version1 => {
            migrate_from_v1(conn)?;
            footprint::release_free_pages(conn)?;
        }
        SchemaState::Version2 => migrate_from_v2(conn)?,
        SchemaState::Current => {}
    }
    if is_file && (enable_incremental_vacuum(conn)? || migrated) {
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
        assert_eq!(layout(&conn), (0, PAGE_SIZE), "no incremental vacuum in memory");
        prepare(&conn, &StoreOptions::default(), false).unwrap();
        assert_eq!(layout(&conn), (0, PAGE_SIZE), "and none switched on later");

        let dir = tempfile::tempdir().unwrap();
        let file = Connection::open(dir.path().join("new.sqlite")).unwrap();
        prepare(&file, &StoreOptions::default(), true).unwrap();
        assert_eq!(layout(&file), (AUTO_VACUUM_INCREMENTAL, PAGE_SIZE), "a file gives free pages back");
    }

    /// `(auto_vacuum, page_size)` of `conn`'s database.
    fn layout(conn: &Connection) -> (i32, i32) {
        let pragma = |name: &str| conn.pragma_query_value(None, name, |r| r.get(0)).unwrap();
        (pragma("auto_vacuum"), pragma("page_size"))
    }

    #[test]
    fn a_database_without_incremental_vacuum_is_switched_once_and_keeps_its_rows() {
        let conn = Connection::open_in_memory().unwrap();
        create(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO entries (ns, key, kind, value, size) VALUES ('', 'k', 0, x'31', 2);
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

    /// Version 1 as larder wrote it, for the migration's tests.
    const CREATE_V1: &str = "
        CREATE TABLE entries (id INTEGER PRIMARY KEY, ns TEXT NOT NULL, key TEXT NOT NULL,
            kind INTEGER NOT NULL, value BLOB NOT NULL, size INTEGER NOT NULL, expires_at INTEGER,
            last_used INTEGER NOT NULL);
        CREATE UNIQUE INDEX entries_by_key ON entries (ns, key);
        CREATE INDEX entries_by_expiry ON entries (expires_at, ns, size) WHERE expires_at IS NOT NULL;
        CREATE INDEX entries_by_recency ON entries (last_used);
        PRAGMA application_id = 1280459858;
        PRAGMA user_version = 1;
        INSERT INTO entries VALUES (1, '', 'old', 0, x'31', 4, NULL, 30);
        INSERT INTO entries VALUES (2, 'ns', 'new', 1, x'ff00', 9, 5000, 70);
        INSERT INTO entries VALUES (3, '', 'mid', 0, x'32', 4, 6000, 50);";

    /// id, ns, key, kind, value, size, expires_at.
    type Row = (i64, String, String, i64, Vec<u8>, i64, Option<i64>);

    fn rows_in_id_order(conn: &Connection) -> Vec<Row> {
        let mut statement = conn.prepare("SELECT * FROM entries ORDER BY id").unwrap();
        let rows = statement.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        });
        rows.unwrap().collect::<rusqlite::Result<_>>().unwrap()
    }

    #[test]
    fn a_version_1_database_is_migrated_with_its_rows_in_recency_order() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(CREATE_V1).unwrap();
        assert_eq!(APPLICATION_ID, 1280459858);
        assert_eq!(inspect(&conn).unwrap(), SchemaState::Version1);
        prepare(&conn, &StoreOptions::default(), false).unwrap();
        assert_eq!(inspect(&conn).unwrap(), SchemaState::Current);
        let rows = rows_in_id_order(&conn);
        assert_eq!(
            rows,
            [
                (1, "".into(), "old".into(), 0, b"1".to_vec(), 4, None),
                (2, "".into(), "mid".into(), 0, b"2".to_vec(), 4, Some(6000)),
                (3, "ns".into(), "new".into(), 1, vec![0xff, 0], 9, Some(5000)),
            ]
        );
        let objects: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            objects,
            [
                "closed_ledgers",
                "closed_ledgers_after_delete",
                "closed_ledgers_after_insert",
                "closed_ledgers_after_update",
                "entries",
                "entries_by_expiry",
                "entries_by_key"
            ]
        );
    }

    #[test]
    fn a_migration_that_fails_leaves_version_1_whole() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(CREATE_V1).unwrap();
        // The name the migration renames the old table to is taken.
        conn.execute_batch("CREATE TABLE entries_v1 (x)").unwrap();
        assert!(prepare(&conn, &StoreOptions::default(), false).is_err());
        let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        let recency_index: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'entries_by_recency'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let rows: i64 = conn.query_row("SELECT count(last_used) FROM entries", [], |r| r.get(0)).unwrap();
        assert_eq!((version, recency_index, rows), (1, 1, 3));
    }

    /// Version 2 as larder wrote it: today's table and indexes, nothing else.
    fn create_v2(conn: &Connection) {
        conn.execute_batch(&format!(
            "{CREATE_TABLE}{CREATE_INDEXES}
             PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = 2;
             INSERT INTO entries (ns, key, kind, value, size, expires_at) VALUES ('', 'a', 0, x'31', 4, NULL);
             INSERT INTO entries (ns, key, kind, value, size, expires_at) VALUES ('ns', 'b', 1, x'ff00', 9, 5000);"
        ))
        .unwrap();
    }

    #[test]
    fn a_version_2_database_gets_empty_closed_ledgers_and_keeps_its_rows() {
        let conn = Connection::open_in_memory().unwrap();
        create_v2(&conn);
        assert_eq!(inspect(&conn).unwrap(), SchemaState::Version2);
        let before = rows_in_id_order(&conn);
        prepare(&conn, &StoreOptions::default(), false).unwrap();
        assert_eq!(inspect(&conn).unwrap(), SchemaState::Current);
        assert_eq!(rows_in_id_order(&conn), before);
        let left: i64 = conn.query_row("SELECT count(*) FROM closed_ledgers", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "the first open after the migration counts from the rows");
    }

    #[test]
    fn a_migration_that_fails_leaves_version_2_whole() {
        let conn = Connection::open_in_memory().unwrap();
        create_v2(&conn);
        // The last trigger's name is taken: the statements before it ran.
        conn.execute_batch(
            "CREATE TRIGGER closed_ledgers_after_delete AFTER DELETE ON entries BEGIN SELECT 1; END",
        )
        .unwrap();
        assert!(prepare(&conn, &StoreOptions::default(), false).is_err());
        let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'closed_ledgers'", [], |r| r.get(0))
            .unwrap();
        assert_eq!((version, tables, rows_in_id_order(&conn).len()), (2, 0, 2));
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
        let page_size: i32 = conn.pragma_query_value(None, "page_size", |r| r.get(0)).unwrap();
        assert_eq!(page_size, PAGE_SIZE);
        let synchronous: i32 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        assert_eq!(header_journal_mode(&path), [2, 2]);
        assert_eq!(inspect(&conn).unwrap(), SchemaState::Current);
        drop(conn);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("sqlite-wal"));
    }
}
