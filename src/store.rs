//! The SQLite side of larder: owns the connection, holds all SQL, and keeps
//! the size ledger in step with what is committed. Every write is one
//! transaction; the ledger changes only when it commits.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql, Transaction, TransactionBehavior};

use crate::cache::{LedgerDelta, SizeLedger};
use crate::codec::{EncodedValue, ValueKind};
use crate::error::{Result, StorageError};
use crate::options::StoragePath;
use crate::schema;

/// One entry of a write: its key, encoded value and size (see `cache::entry_size`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: EncodedValue,
    pub size: u64,
}

/// `keys()` arguments, already validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyQuery {
    pub prefix: String,
    pub after: Option<String>,
    pub limit: Option<u64>,
}

pub struct Store {
    conn: Connection,
    ledger: SizeLedger,
    /// The `last_used` stamp the next write gets; grows by one per write.
    next_use: i64,
}

impl Store {
    pub fn open(path: &StoragePath) -> Result<Store> {
        let conn = match path {
            StoragePath::Memory => Connection::open_in_memory()?,
            StoragePath::Temp | StoragePath::File(_) => {
                return Err(StorageError::Unsupported(
                    "file storage is not available yet: use path \":memory:\"".into(),
                ))
            }
        };
        schema::prepare(&conn)?;
        let (rows, bytes, last_used): (u64, u64, i64) = conn.query_row(
            "SELECT count(*), coalesce(sum(size), 0), coalesce(max(last_used), 0) FROM entries",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        Ok(Store {
            conn,
            ledger: SizeLedger { rows, bytes },
            next_use: last_used + 1,
        })
    }

    pub fn close(self) -> Result<()> {
        self.conn.close().map_err(|(_, error)| error.into())
    }

    pub fn set(&mut self, ns: &str, entry: &Entry, expires_at: Option<i64>) -> Result<()> {
        self.write(|tx, delta, stamp| upsert(tx, ns, entry, expires_at, stamp, delta))
    }

    /// All entries or none: any failure rolls the whole batch back.
    pub fn mset(&mut self, ns: &str, entries: &[Entry], expires_at: Option<i64>) -> Result<()> {
        self.write(|tx, delta, stamp| {
            entries
                .iter()
                .try_for_each(|entry| upsert(tx, ns, entry, expires_at, stamp, delta))
        })
    }

    pub fn get(&mut self, ns: &str, key: &str, now_ms: i64) -> Result<Option<EncodedValue>> {
        read_live(&self.conn, ns, key, now_ms)
    }

    /// Every value from one snapshot, in the order of `keys`.
    pub fn mget(
        &mut self,
        ns: &str,
        keys: &[String],
        now_ms: i64,
    ) -> Result<Vec<Option<EncodedValue>>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)?;
        let values = keys
            .iter()
            .map(|key| read_live(&tx, ns, key, now_ms))
            .collect::<Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(values)
    }

    pub fn has(&mut self, ns: &str, key: &str, now_ms: i64) -> Result<bool> {
        let expires_at: Option<Option<i64>> = self
            .conn
            .prepare_cached("SELECT expires_at FROM entries WHERE ns = ?1 AND key = ?2")?
            .query_row(params![ns, key], |row| row.get(0))
            .optional()?;
        Ok(expires_at.is_some_and(|expires_at| is_live(expires_at, now_ms)))
    }

    /// Whether a live entry was deleted (an expired one is removed silently).
    pub fn delete(&mut self, ns: &str, key: &str, now_ms: i64) -> Result<bool> {
        self.write(|tx, delta, _| remove(tx, ns, key, now_ms, delta))
    }

    /// How many live entries were deleted, atomically.
    pub fn mdelete(&mut self, ns: &str, keys: &[String], now_ms: i64) -> Result<u64> {
        self.write(|tx, delta, _| {
            let mut deleted = 0;
            for key in keys {
                deleted += u64::from(remove(tx, ns, key, now_ms, delta)?);
            }
            Ok(deleted)
        })
    }

    /// Removes every entry of every namespace.
    pub fn clear(&mut self) -> Result<()> {
        let ledger = self.ledger;
        self.write(|tx, delta, _| {
            tx.execute("DELETE FROM entries", [])?;
            *delta = LedgerDelta::emptying(ledger);
            Ok(())
        })
    }

    /// Live keys of a namespace in UTF-8 byte order. The prefix is a key range,
    /// never a pattern: `%`, `_` and case mean nothing special.
    pub fn keys(&mut self, ns: &str, query: &KeyQuery, now_ms: i64) -> Result<Vec<String>> {
        let upper = prefix_successor(query.prefix.as_bytes());
        let mut sql = String::from(
            "SELECT key FROM entries WHERE ns = ?1 AND key >= ?2 \
             AND (expires_at IS NULL OR expires_at > ?3)",
        );
        if upper.is_some() {
            sql.push_str(" AND key < ?4");
        }
        if query.after.is_some() {
            sql.push_str(" AND key > ?5");
        }
        sql.push_str(" ORDER BY key LIMIT ?6");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let limit = query
            .limit
            .map_or(-1, |limit| limit.min(i64::MAX as u64) as i64);
        let upper = upper.as_deref().map(TextBytes);
        let mut rows =
            statement.query(params![ns, query.prefix, now_ms, upper, query.after, limit])?;
        let mut keys = Vec::new();
        while let Some(row) = rows.next()? {
            keys.push(row.get(0)?);
        }
        Ok(keys)
    }

    /// Live entries of the whole store.
    pub fn count(&mut self, now_ms: i64) -> Result<u64> {
        Ok(self.ledger.live(self.expired(now_ms)?).rows)
    }

    /// Bytes of all live entries of the whole store.
    pub fn total_size(&mut self, now_ms: i64) -> Result<u64> {
        Ok(self.ledger.live(self.expired(now_ms)?).bytes)
    }

    /// Rows and bytes that have expired but are still stored.
    fn expired(&self, now_ms: i64) -> Result<SizeLedger> {
        let mut statement = self.conn.prepare_cached(
            "SELECT count(*), coalesce(sum(size), 0) FROM entries WHERE expires_at <= ?1",
        )?;
        Ok(statement.query_row([now_ms], |row| {
            Ok(SizeLedger {
                rows: row.get(0)?,
                bytes: row.get(1)?,
            })
        })?)
    }

    /// Runs `body` in one immediate transaction, then moves the ledger by
    /// what it changed, only if it committed.
    fn write<T>(
        &mut self,
        body: impl FnOnce(&Transaction, &mut LedgerDelta, i64) -> Result<T>,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut delta = LedgerDelta::default();
        let result = body(&tx, &mut delta, self.next_use)?;
        tx.commit()?;
        self.ledger.apply(delta);
        self.next_use += 1;
        Ok(result)
    }

    /// Recounts from the table: what the ledger must always equal.
    pub fn recount(&self) -> Result<SizeLedger> {
        Ok(self.conn.query_row(
            "SELECT count(*), coalesce(sum(size), 0) FROM entries",
            [],
            |row| {
                Ok(SizeLedger {
                    rows: row.get(0)?,
                    bytes: row.get(1)?,
                })
            },
        )?)
    }

    pub fn ledger(&self) -> SizeLedger {
        self.ledger
    }
}

fn is_live(expires_at: Option<i64>, now_ms: i64) -> bool {
    expires_at.is_none_or(|expires_at| now_ms < expires_at)
}

fn read_live(conn: &Connection, ns: &str, key: &str, now_ms: i64) -> Result<Option<EncodedValue>> {
    let row: Option<(i64, Vec<u8>, Option<i64>)> = conn
        .prepare_cached("SELECT kind, value, expires_at FROM entries WHERE ns = ?1 AND key = ?2")?
        .query_row(params![ns, key], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    match row {
        Some((kind, bytes, expires_at)) if is_live(expires_at, now_ms) => Ok(Some(EncodedValue {
            kind: ValueKind::from_stored(kind)?,
            bytes,
        })),
        _ => Ok(None),
    }
}

fn upsert(
    tx: &Transaction,
    ns: &str,
    entry: &Entry,
    expires_at: Option<i64>,
    stamp: i64,
    delta: &mut LedgerDelta,
) -> Result<()> {
    let old_size: Option<u64> = tx
        .prepare_cached("SELECT size FROM entries WHERE ns = ?1 AND key = ?2")?
        .query_row(params![ns, entry.key], |row| row.get(0))
        .optional()?;
    tx.prepare_cached(
        "INSERT INTO entries (ns, key, kind, value, size, expires_at, last_used)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (ns, key) DO UPDATE SET kind = excluded.kind, value = excluded.value,
             size = excluded.size, expires_at = excluded.expires_at, last_used = excluded.last_used",
    )?
    .execute(params![
        ns,
        entry.key,
        entry.value.kind as i64,
        entry.value.bytes,
        entry.size,
        expires_at,
        stamp
    ])?;
    match old_size {
        Some(old_size) => delta.replaced(old_size, entry.size),
        None => delta.inserted(entry.size),
    }
    Ok(())
}

/// Deletes one row; says whether it was live.
fn remove(
    tx: &Transaction,
    ns: &str,
    key: &str,
    now_ms: i64,
    delta: &mut LedgerDelta,
) -> Result<bool> {
    let removed: Option<(u64, Option<i64>)> = tx
        .prepare_cached(
            "DELETE FROM entries WHERE ns = ?1 AND key = ?2 RETURNING size, expires_at",
        )?
        .query_row(params![ns, key], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(match removed {
        Some((size, expires_at)) => {
            delta.removed(size);
            is_live(expires_at, now_ms)
        }
        None => false,
    })
}

/// The smallest byte string greater than every string that starts with
/// `prefix`: the prefix with its last byte raised by one (UTF-8 never holds
/// 0xFF, so that byte always exists). `None` for the empty prefix.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&byte| byte != 0xff)?;
    let mut upper = prefix[..=last].to_vec();
    upper[last] += 1;
    Some(upper)
}

/// Bytes bound as TEXT, so they compare with keys byte for byte even when
/// they are not valid UTF-8 themselves (a range bound).
struct TextBytes<'a>(&'a [u8]);

impl ToSql for TextBytes<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ValueKind;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn entry(key: &str, json: &str, size: u64) -> Entry {
        Entry {
            key: key.into(),
            value: EncodedValue {
                kind: ValueKind::Json,
                bytes: json.as_bytes().to_vec(),
            },
            size,
        }
    }

    fn open() -> Store {
        Store::open(&StoragePath::Memory).unwrap()
    }

    fn check_ledger(store: &Store) {
        assert_eq!(store.ledger(), store.recount().unwrap());
    }

    #[wasm_bindgen_test]
    fn sizes_follow_overwrites_deletes_and_clear() {
        let mut store = open();
        store
            .set("", &entry("component:react:button", "1", 100), None)
            .unwrap();
        store
            .set("", &entry("block:react:dashboard-01", "2", 200), None)
            .unwrap();
        assert_eq!(store.total_size(0).unwrap(), 300);
        assert!(store.delete("", "component:react:button", 0).unwrap());
        assert_eq!(store.total_size(0).unwrap(), 200);
        store
            .set("", &entry("block:react:dashboard-01", "3", 50), None)
            .unwrap();
        assert_eq!(
            (store.count(0).unwrap(), store.total_size(0).unwrap()),
            (1, 50)
        );
        check_ledger(&store);
        store.clear().unwrap();
        assert_eq!(
            (store.count(0).unwrap(), store.total_size(0).unwrap()),
            (0, 0)
        );
        check_ledger(&store);
    }

    #[wasm_bindgen_test]
    fn a_failed_batch_changes_nothing() {
        let mut store = open();
        store.set("", &entry("a", "1", 10), None).unwrap();
        // The third write of the batch fails inside the transaction.
        store
            .conn
            .execute_batch(
                "CREATE TEMP TRIGGER refuse_c BEFORE INSERT ON entries WHEN NEW.key = 'c'
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .unwrap();
        let batch = [
            entry("b", "2", 20),
            entry("a", "9", 99),
            entry("c", "3", 30),
        ];
        let error = store.mset("", &batch, None).unwrap_err();
        assert_eq!(
            error.sqlite_code(),
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER)
        );
        assert_eq!(store.get("", "a", 0).unwrap().unwrap().bytes, b"1");
        assert_eq!(store.get("", "b", 0).unwrap(), None);
        assert_eq!(
            (store.count(0).unwrap(), store.total_size(0).unwrap()),
            (1, 10)
        );
        check_ledger(&store);
    }

    #[wasm_bindgen_test]
    fn expired_entries_are_invisible_but_accounted_until_removed() {
        let mut store = open();
        store.set("", &entry("short", "1", 5), Some(1000)).unwrap();
        store.set("", &entry("long", "1", 7), None).unwrap();
        assert!(store.has("", "short", 999).unwrap());
        assert!(!store.has("", "short", 1000).unwrap());
        assert_eq!(store.get("", "short", 1000).unwrap(), None);
        assert_eq!(
            (store.count(1000).unwrap(), store.total_size(1000).unwrap()),
            (1, 7)
        );
        assert_eq!(
            store.keys("", &KeyQuery::default(), 1000).unwrap(),
            vec!["long"]
        );
        // Deleting an expired entry removes it but reports nothing deleted.
        assert!(!store.delete("", "short", 1000).unwrap());
        assert_eq!(store.recount().unwrap(), SizeLedger { rows: 1, bytes: 7 });
        check_ledger(&store);
    }

    #[wasm_bindgen_test]
    fn prefixes_are_literal_ranges() {
        let mut store = open();
        for key in [
            "a%",
            "a%b",
            "a_",
            "ab",
            "A",
            "a",
            "a\0",
            "a\0b",
            "a\\",
            "é",
            "\u{10ffff}x",
            "b",
        ] {
            store.set("", &entry(key, "1", 1), None).unwrap();
        }
        let keys = |store: &mut Store, prefix: &str| {
            let query = KeyQuery {
                prefix: prefix.into(),
                ..KeyQuery::default()
            };
            store.keys("", &query, 0).unwrap()
        };
        assert_eq!(keys(&mut store, "a%"), vec!["a%", "a%b"]);
        assert_eq!(keys(&mut store, "a_"), vec!["a_"]);
        assert_eq!(keys(&mut store, "a\0"), vec!["a\0", "a\0b"]);
        assert_eq!(keys(&mut store, "A"), vec!["A"]);
        assert_eq!(keys(&mut store, "\u{10ffff}"), vec!["\u{10ffff}x"]);
        assert_eq!(keys(&mut store, "a").len(), 8);
        assert_eq!(keys(&mut store, "").len(), 12);
        let all = keys(&mut store, "");
        let mut sorted = all.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(all, sorted);
        let page = KeyQuery {
            prefix: "a".into(),
            after: Some("a%b".into()),
            limit: Some(2),
        };
        assert_eq!(store.keys("", &page, 0).unwrap(), vec!["a\\", "a_"]);
    }

    #[wasm_bindgen_test]
    fn prefix_successor_bounds() {
        assert_eq!(prefix_successor(b""), None);
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_successor("é".as_bytes()), Some(vec![0xc3, 0xaa]));
    }

    #[wasm_bindgen_test]
    fn namespaces_do_not_see_each_other() {
        let mut store = open();
        store.set("", &entry("k", "1", 1), None).unwrap();
        store.set("ns", &entry("k", "2", 2), None).unwrap();
        assert_eq!(store.get("ns", "k", 0).unwrap().unwrap().bytes, b"2");
        assert!(store.delete("ns", "k", 0).unwrap());
        assert_eq!(store.get("", "k", 0).unwrap().unwrap().bytes, b"1");
    }
}
