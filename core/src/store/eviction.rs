//! Cache policy inside a write: expired rows removed on the side (a bounded
//! number per write, or all of them), and least-recently-used live entries
//! evicted until the budget holds. It works on the ledgers as the write
//! leaves them, so another table could later share the same budget.

use rusqlite::{params, Connection};

use super::lru_order::LruOrder;
use super::rows::total_bytes;
use super::write::Write;
use super::Scope;
use crate::accounting::{EntryKey, ExpiryFloor, SizeLedger};
use crate::error::{Result, StorageError};

// The row limits are written into the SQL, not bound: SQLite prepares a
// statement again every time a bound LIMIT is bound, even to the same value,
// which cost a parse per write.
/// Expired rows each write removes on the side, so they never pile up and no
/// write pays for more than this many.
macro_rules! lazy_purge_limit {
    () => {
        32
    };
}
pub const LAZY_PURGE_LIMIT: u64 = lazy_purge_limit!();
pub(super) const PURGE_SOME_SQL: &str = concat!(
    "DELETE FROM entries WHERE id IN
       (SELECT id FROM entries WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ",
    lazy_purge_limit!(),
    ") RETURNING ns, size"
);
pub(super) const PURGE_ALL_SQL: &str = "DELETE FROM entries WHERE expires_at <= ?1 RETURNING ns, size";
impl Write<'_> {
    /// Removes up to `LAZY_PURGE_LIMIT` expired rows, oldest expiry first:
    /// every data write does this on the side.
    pub(super) fn purge_some_expired(&mut self, now_ms: i64) -> Result<()> {
        if !self.expiry_floor.may_have_expired(now_ms) {
            return Ok(());
        }
        let mut statement = self.tx.prepare_cached(PURGE_SOME_SQL)?;
        let mut rows = statement.query([now_ms])?;
        let mut purged = 0;
        while let Some(row) = rows.next()? {
            self.delta.removed(&row.get::<_, String>(0)?, row.get(1)?);
            purged += 1;
        }
        self.expired_removed += purged;
        if purged < LAZY_PURGE_LIMIT {
            *self.expiry_floor = earliest_expiry(self.tx)?;
        }
        Ok(())
    }

    /// Bytes of every stored row, live or expired, as this write leaves them.
    fn stored_bytes(&self) -> i64 {
        self.ledgers.total().bytes as i64 + self.delta.bytes()
    }

    /// Removes every expired row.
    fn purge_all_expired(&mut self, now_ms: i64) -> Result<()> {
        if !self.expiry_floor.may_have_expired(now_ms) {
            return Ok(());
        }
        let mut statement = self.tx.prepare_cached(PURGE_ALL_SQL)?;
        let mut rows = statement.query([now_ms])?;
        while let Some(row) = rows.next()? {
            self.delta.removed(&row.get::<_, String>(0)?, row.get(1)?);
            self.expired_removed += 1;
        }
        *self.expiry_floor = earliest_expiry(self.tx)?;
        Ok(())
    }

    /// Evicts least-recently-used live entries, no more than needed, until
    /// the live total fits the budget. Entries stamped `first_new_stamp` or
    /// later are this write's own and are never evicted; if the write cannot
    /// fit without them, it fails. Once the stored total (live or not) is over
    /// the budget, every expired row goes first: they take disk space as live
    /// ones do, and a write of many entries outruns the lazy purge.
    pub(super) fn make_room(&mut self, first_new_stamp: i64, now_ms: i64) -> Result<()> {
        let Some(budget) = self.max_size_bytes else { return Ok(()) };
        if self.stored_bytes() <= budget as i64 {
            return Ok(());
        }
        self.purge_all_expired(now_ms)?;
        let mut live = self.stored_bytes();
        let mut order = LruOrder::new(first_new_stamp, now_ms);
        let mut delete = self.tx.prepare_cached("DELETE FROM entries WHERE id = ?1")?;
        while live > budget as i64 {
            let Some(victim) = order.next(self.tx, self.recency)? else {
                return Err(StorageError::ValueTooLarge(format!(
                    "the write needs {live} bytes of live entries, more than maxSizeBytes ({budget}) even after evicting every other entry"
                )));
            };
            delete.execute([victim.id])?;
            self.delta.removed(&victim.ns, victim.size);
            live -= victim.size as i64;
            self.evicted.push((victim.ns, victim.key));
        }
        Ok(())
    }
}

/// The entries the writes committed since the list was last taken evicted,
/// for the facade's read cache to drop (`Store::take_evicted`). Bounded:
/// past `EVICTED_NAMED`, only that there were more is kept, and the cache
/// then drops everything.
#[derive(Debug, Default)]
pub(super) struct EvictedKeys {
    keys: Vec<EntryKey>,
    too_many: bool,
}

/// Evictions named before the list says only that there were more.
pub const EVICTED_NAMED: usize = 4096;

impl EvictedKeys {
    pub(super) fn extend(&mut self, victims: Vec<EntryKey>) {
        if self.too_many || victims.is_empty() {
            return;
        }
        if self.keys.len() + victims.len() > EVICTED_NAMED {
            self.too_many = true;
            self.keys = Vec::new();
        } else {
            self.keys.extend(victims);
        }
    }

    /// The evicted entries' namespaces and keys, in eviction order, or
    /// `None` if there were more than the list names; the list is then empty.
    pub(super) fn take(&mut self) -> Option<Vec<EntryKey>> {
        let EvictedKeys { keys, too_many } = std::mem::take(self);
        (!too_many).then_some(keys)
    }
}

/// The earliest expiry stored, as an expiry floor.
pub(super) fn earliest_expiry(conn: &Connection) -> Result<ExpiryFloor> {
    let earliest = conn
        .prepare_cached("SELECT min(expires_at) FROM entries WHERE expires_at IS NOT NULL")?
        .query_row([], |row| row.get(0))?;
    Ok(ExpiryFloor::new(earliest))
}

/// Rows and bytes of the scope that have expired but are still stored.
pub(super) fn expired(
    conn: &Connection,
    floor: ExpiryFloor,
    scope: Scope,
    now_ms: i64,
) -> Result<SizeLedger> {
    if !floor.may_have_expired(now_ms) {
        return Ok(SizeLedger::default());
    }
    let read = |row: &rusqlite::Row| Ok(SizeLedger { rows: row.get(0)?, bytes: total_bytes(row, 1)? });
    let ledger = match scope {
        Scope::Store => conn
            .prepare_cached("SELECT count(*), total(size) FROM entries WHERE expires_at <= ?1")?
            .query_row([now_ms], read)?,
        Scope::Namespace(ns) => conn
            .prepare_cached("SELECT count(*), total(size) FROM entries WHERE expires_at <= ?1 AND ns = ?2")?
            .query_row(params![now_ms, ns], read)?,
    };
    Ok(ledger)
}
