//! The ledgers a clean close leaves in the file (`closed_ledgers`, schema
//! version 3), so that the next open reads them instead of counting every
//! row. They stand until a write changes a ledger: that write deletes them
//! in its own transaction (`Store::attempt_write`), and another program's
//! write does through the schema's triggers.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::accounting::{Ledgers, SizeLedger};
use crate::error::Result;

/// The ledgers the last clean close left, if they still stand.
pub(super) fn load(conn: &Connection) -> Result<Option<Ledgers>> {
    let mut statement = conn.prepare("SELECT ns, rows, bytes FROM closed_ledgers")?;
    let mut rows = statement.query([])?;
    let mut counts = Vec::new();
    while let Some(row) = rows.next()? {
        counts.push((row.get(0)?, SizeLedger { rows: row.get(1)?, bytes: row.get(2)? }));
    }
    Ok((!counts.is_empty()).then(|| Ledgers::from_counts(counts)))
}

/// Leaves `ledgers`, which must be what the file holds, for the next open,
/// in one transaction. An empty store leaves none: counting it is free.
pub(super) fn save(conn: &Connection, ledgers: &Ledgers) -> Result<()> {
    if ledgers.total().rows == 0 {
        return Ok(());
    }
    // Rolled back when dropped uncommitted.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM closed_ledgers", [])?;
    {
        let mut insert = tx.prepare("INSERT INTO closed_ledgers (ns, rows, bytes) VALUES (?1, ?2, ?3)")?;
        for (ns, ledger) in ledgers.namespaces() {
            insert.execute(rusqlite::params![ns, ledger.rows, ledger.bytes])?;
        }
    }
    Ok(tx.commit()?)
}

/// Deletes the closed ledgers: the write under way changes what they count.
pub(super) fn forget(conn: &Connection) -> Result<()> {
    conn.prepare_cached("DELETE FROM closed_ledgers")?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Entry, Scope, Store};
    use super::*;
    use crate::database::Database;
    use crate::options::StoreOptions;
    use crate::value::{EncodedValue, ValueKind};

    fn open(path: &std::path::Path) -> Store {
        Store::open(Database::native_file(path).unwrap(), &StoreOptions::default()).unwrap()
    }

    fn put(store: &mut Store, ns: &str, key: &str, size: u64) {
        let value = EncodedValue { kind: ValueKind::Json, bytes: b"1".to_vec() };
        store.set(ns, &Entry { key: key.into(), value, size }, None, 0).unwrap();
    }

    fn left_in(path: &std::path::Path) -> Option<Ledgers> {
        load(&rusqlite::Connection::open(path).unwrap()).unwrap()
    }

    /// A store with 3 rows of 60 bytes at the root and 1 of 5 in "ns", closed.
    fn closed_store(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("store.sqlite");
        let mut store = open(&path);
        for key in ["a", "b", "c"] {
            put(&mut store, "", key, 20);
        }
        put(&mut store, "ns", "x", 5);
        store.close().unwrap();
        path
    }

    #[test]
    fn a_clean_close_leaves_the_ledgers_and_the_next_open_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = closed_store(&dir);
        let left = left_in(&path).expect("left by the close");
        assert_eq!(left.total(), SizeLedger { rows: 4, bytes: 65 });
        assert_eq!(left.namespace("ns"), SizeLedger { rows: 1, bytes: 5 });

        let mut store = open(&path);
        assert!(store.closed_ledgers_stand);
        assert_eq!(store.ledgers(), &left);
        assert_eq!(
            (store.count(Scope::Store, 0).unwrap(), store.total_size(Scope::Store, 0).unwrap()),
            (4, 65)
        );
        store.get("", "a", 0).unwrap();
        store.close().unwrap();
        assert_eq!(left_in(&path), Some(left), "a close after reads only leaves them as they were");
    }

    #[test]
    fn the_first_write_that_changes_a_ledger_deletes_them_in_its_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = closed_store(&dir);
        let mut store = open(&path);
        put(&mut store, "", "d", 7);
        assert!(!store.closed_ledgers_stand);
        assert_eq!(load(store.conn()).unwrap(), None, "gone with the write's commit");
        // Killed here, without a close: the next open counts from the rows.
        drop(store);
        let store = open(&path);
        assert!(!store.closed_ledgers_stand);
        assert_eq!(store.ledgers().total(), SizeLedger { rows: 5, bytes: 72 });
        assert_eq!(store.ledgers(), &store.recount().unwrap());
        store.close().unwrap();
        assert_eq!(left_in(&path).unwrap().total(), SizeLedger { rows: 5, bytes: 72 }, "left again");
    }

    #[test]
    fn a_failed_write_leaves_them_standing() {
        let dir = tempfile::tempdir().unwrap();
        let path = closed_store(&dir);
        let mut store = open(&path);
        let value = EncodedValue { kind: ValueKind::Json, bytes: b"1".to_vec() };
        let entries = [
            Entry { key: "e".into(), value: value.clone(), size: 1 },
            Entry { key: "\u{0}".into(), value, size: 1 },
        ];
        store.conn().execute_batch("CREATE TEMP TRIGGER refuse BEFORE INSERT ON entries WHEN NEW.key = char(0) BEGIN SELECT RAISE(ABORT, 'no'); END").unwrap();
        assert!(store.mset("", &entries, None, 0).is_err());
        assert!(store.closed_ledgers_stand);
        assert!(load(store.conn()).unwrap().is_some(), "rolled back with the write");
    }

    #[test]
    fn another_programs_write_deletes_them_through_the_triggers() {
        let dir = tempfile::tempdir().unwrap();
        let path = closed_store(&dir);
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute("UPDATE entries SET size = 50 WHERE key = 'x'", []).unwrap();
        assert_eq!(load(&other).unwrap(), None);
        drop(other);
        let store = open(&path);
        assert!(!store.closed_ledgers_stand);
        assert_eq!(store.ledgers().namespace("ns"), SizeLedger { rows: 1, bytes: 50 });
        store.close().unwrap();
    }

    #[test]
    fn an_empty_store_leaves_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        let mut store = open(&path);
        put(&mut store, "", "a", 1);
        store.clear(Scope::Store).unwrap();
        store.close().unwrap();
        assert_eq!(left_in(&path), None);
        let store = open(&path);
        assert_eq!(store.ledgers().total(), SizeLedger::default());
        store.close().unwrap();
    }

    #[test]
    fn larders_own_connection_fires_no_trigger() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir.path().join("store.sqlite"));
        let enabled =
            store.conn().db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER).unwrap();
        assert!(!enabled);
    }
}
