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
            expires: expires_at.is_some(),
        })),
        _ => Ok(None),
    }
}

const UPSERT_MOVING: &str = "INSERT INTO entries (id, ns, key, kind, value, size, expires_at)
     VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (ns, key) DO UPDATE SET id = excluded.id, kind = excluded.kind, value = excluded.value,
         size = excluded.size, expires_at = excluded.expires_at";
const UPSERT_IN_PLACE: &str = "INSERT INTO entries (id, ns, key, kind, value, size, expires_at)
     VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (ns, key) DO UPDATE SET kind = excluded.kind, value = excluded.value,
         size = excluded.size, expires_at = excluded.expires_at";

/// Inserts `entry` with id `stamp`, or overwrites it, moving its row to
/// `stamp` only if `moves` (recency is kept); an overwrite that changes
/// nothing then writes no page.
pub(super) fn upsert(
    tx: &Connection,
    ns: &str,
    entry: &Entry,
    expires_at: Option<i64>,
    (stamp, moves): (i64, bool),
    delta: &mut LedgerDelta,
) -> Result<()> {
    let old_size: Option<u64> = tx
        .prepare_cached("SELECT size FROM entries WHERE ns = ?1 AND key = ?2")?
        .query_row(params![ns, entry.key], |row| row.get(0))
        .optional()?;
    let sql = if moves { UPSERT_MOVING } else { UPSERT_IN_PLACE };
    tx.prepare_cached(sql)?.execute(params![
        ns,
        entry.key,
        entry.value.kind as i64,
        entry.value.bytes,
        entry.size,
        expires_at,
        stamp
    ])?;
    match old_size {
        Some(old_size) => delta.replaced(ns, old_size, entry.size),
        None => delta.inserted(ns, entry.size),
    }
    Ok(())
}
