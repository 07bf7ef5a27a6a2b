//! Rows of the entries table: reading a live value, writing an entry with
//! its ledger change, and recounting what is stored.

use rusqlite::types::ValueRef;
use rusqlite::Error::{IntegralValueOutOfRange, InvalidColumnType, Utf8Error};
use rusqlite::{params, CachedStatement, Connection, OptionalExtension};

use super::{Entry, ReadEntry};
use crate::accounting::{LedgerDelta, Ledgers};
use crate::error::Result;
use crate::options::MAX_SAFE_INTEGER;
use crate::value::{EncodedValue, ValueKind};

/// Each namespace's rows and bytes, counted from every row in the table's own
/// order: one read per page of the table. (`GROUP BY ns` walks the key index
/// instead, and reads a table page per row once ids are not in key order:
/// 93,585 reads where this takes 33,430, for 100,000 entries of 1 KB with
/// random keys.) Sizes larder never writes are damage, found here.
pub(super) fn count_ledgers(conn: &Connection) -> Result<Ledgers> {
    let mut statement = conn.prepare("SELECT ns, size FROM entries NOT INDEXED")?;
    let mut rows = statement.query([])?;
    let mut ledgers = Ledgers::default();
    while let Some(row) = rows.next()? {
        let ns = match row.get_ref(0)? {
            ValueRef::Text(text) => std::str::from_utf8(text).map_err(|error| Utf8Error(0, error))?,
            other => return Err(InvalidColumnType(0, "ns".into(), other.data_type()).into()),
        };
        let size: i64 = row.get(1)?;
        if !(0.0..=MAX_SAFE_INTEGER).contains(&(size as f64)) {
            return Err(IntegralValueOutOfRange(1, size).into());
        }
        ledgers.count_row(ns, size as u64).ok_or(IntegralValueOutOfRange(1, size))?;
    }
    Ok(ledgers)
}

/// A `total(size)` as bytes. Unlike `sum`, `total` cannot fail with "integer
/// overflow"; it adds as a float, exactly while the total is below 2^53.
pub(super) fn total_bytes(row: &rusqlite::Row, index: usize) -> rusqlite::Result<u64> {
    let total: f64 = row.get(index)?;
    match total >= 0.0 && total < u64::MAX as f64 {
        true => Ok(total as u64),
        false => Err(rusqlite::Error::IntegralValueOutOfRange(index, total as i64)),
    }
}

pub(super) fn is_live(expires_at: Option<i64>, now_ms: i64) -> bool {
    expires_at.is_none_or(|expires_at| now_ms < expires_at)
}

/// The statement `read_live_with` runs: a batch prepares it once.
pub(super) fn live_reader(conn: &Connection) -> Result<CachedStatement<'_>> {
    Ok(conn.prepare_cached("SELECT kind, value, expires_at FROM entries WHERE ns = ?1 AND key = ?2")?)
}

pub(super) fn read_live(conn: &Connection, ns: &str, key: &str, now_ms: i64) -> Result<Option<ReadEntry>> {
    read_live_with(&mut live_reader(conn)?, ns, key, now_ms)
}

pub(super) fn read_live_with(
    reader: &mut CachedStatement<'_>,
    ns: &str,
    key: &str,
    now_ms: i64,
) -> Result<Option<ReadEntry>> {
    let row: Option<(i64, Vec<u8>, Option<i64>)> =
        reader.query_row(params![ns, key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).optional()?;
    match row {
        Some((kind, bytes, expires_at)) if is_live(expires_at, now_ms) => Ok(Some(ReadEntry {
            value: EncodedValue { kind: ValueKind::from_stored(kind)?, bytes },
            expires_at,
        })),
        _ => Ok(None),
    }
}

/// A new key's row, in one statement; a key already stored is left as it
/// is (see `upsert`).
const INSERT_NEW: &str = "INSERT INTO entries (id, ns, key, kind, value, size, expires_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (ns, key) DO NOTHING";
const STORED: &str = "SELECT id, size FROM entries WHERE ns = ?1 AND key = ?2";
/// An overwrite that moves the row to the new id `?2` (recency is kept),
/// or leaves it in place (`?2` unused).
const OVERWRITE_MOVING: &str =
    "UPDATE entries SET id = ?2, kind = ?3, value = ?4, size = ?5, expires_at = ?6 WHERE id = ?1";
const OVERWRITE_IN_PLACE: &str =
    "UPDATE entries SET kind = ?3, value = ?4, size = ?5, expires_at = ?6 WHERE id = ?1";

/// The statements of `upsert`, each taken from the statement cache at its
/// first use in a write and held to the write's end: a batch runs them once
/// per entry, and the cache's lookup (a hash of the SQL text) took 3% of an
/// `mset` entry.
pub(super) struct Upserts<'conn> {
    tx: &'conn Connection,
    insert_new: Option<CachedStatement<'conn>>,
    stored: Option<CachedStatement<'conn>>,
    overwrite: Option<CachedStatement<'conn>>,
}

impl<'conn> Upserts<'conn> {
    pub(super) fn new(tx: &'conn Connection) -> Self {
        Upserts { tx, insert_new: None, stored: None, overwrite: None }
    }

    /// Inserts `entry` with id `stamp`, or overwrites it, moving its row to
    /// `stamp` only if `moves` (recency is kept; the same for every write of
    /// a store); an overwrite that changes nothing then writes no page.
    ///
    /// An insert needs no old size for its ledger change, an overwrite
    /// does. So while writes insert (`inserting`: the last upsert did) an
    /// upsert tries the insert alone first, one statement; once one
    /// overwrites, they look for the stored row first and update it, two. A
    /// guess that misses costs one statement more. (Always two, a `SELECT`
    /// of the old size and an upsert, took a fifth of a `set` and a third of
    /// an `mset` entry in memory, natively, where the insert alone takes
    /// neither.)
    pub(super) fn upsert(
        &mut self,
        ns: &str,
        entry: &Entry,
        expires_at: Option<i64>,
        (stamp, moves): (i64, bool),
        delta: &mut LedgerDelta,
        inserting: &mut bool,
    ) -> Result<()> {
        let (kind, bytes, size) = (entry.value.kind as i64, &entry.value.bytes, entry.size);
        let new_row = params![stamp, ns, entry.key, kind, bytes, size, expires_at];
        if *inserting && held(&mut self.insert_new, self.tx, INSERT_NEW)?.execute(new_row)? == 1 {
            delta.inserted(ns, size);
            return Ok(());
        }
        let stored: Option<(i64, u64)> = held(&mut self.stored, self.tx, STORED)?
            .query_row(params![ns, entry.key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        *inserting = stored.is_none();
        match stored {
            Some((id, old_size)) => {
                let sql = if moves { OVERWRITE_MOVING } else { OVERWRITE_IN_PLACE };
                held(&mut self.overwrite, self.tx, sql)?
                    .execute(params![id, stamp, kind, bytes, size, expires_at])?;
                delta.replaced(ns, old_size, size);
            }
            // Found absent in this transaction: the insert cannot conflict.
            None => {
                held(&mut self.insert_new, self.tx, INSERT_NEW)?.execute(new_row)?;
                delta.inserted(ns, size);
            }
        }
        Ok(())
    }
}

/// The statement `slot` holds, taken from the cache first if it holds none.
fn held<'s, 'conn>(
    slot: &'s mut Option<CachedStatement<'conn>>,
    tx: &'conn Connection,
    sql: &str,
) -> Result<&'s mut CachedStatement<'conn>> {
    if slot.is_none() {
        *slot = Some(tx.prepare_cached(sql)?);
    }
    Ok(slot.as_mut().expect("just filled"))
}
