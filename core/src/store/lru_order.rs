//! Entries in least-recently-used order, for eviction: the table's rows by
//! id (each row's id is its last write's stamp, or its last persisted read's)
//! merged with the reads not yet persisted, which place an entry at its
//! read's stamp instead. Both sequences are ascending, so one pass merges
//! them and eviction stays exact without persisting a read first.

use rusqlite::{params, Connection, OptionalExtension};

use crate::accounting::Recency;
use crate::error::Result;

// Written into the SQL, not bound: see `eviction`. Few: a cache at capacity
// evicts one entry or two per write, and reading rows it does not evict (their
// keys copied out) was a tenth of such a write's time.
macro_rules! rows_per_query {
    () => {
        8
    };
}
/// Rows read per query.
pub const EVICTION_BATCH: u64 = rows_per_query!();
pub(super) const ROWS_SQL: &str = concat!(
    "SELECT id, ns, key, size FROM entries
     WHERE id > ?1 AND id < ?2 AND (expires_at IS NULL OR expires_at > ?3)
     ORDER BY id LIMIT ",
    rows_per_query!()
);

/// An entry to evict: its row, and the stamp it is ordered by.
pub(super) struct Candidate {
    pub(super) stamp: i64,
    pub(super) id: i64,
    pub(super) ns: String,
    pub(super) key: String,
    pub(super) size: u64,
}

/// A walk through the live entries stamped before `before` (the first stamp
/// of the write in progress, whose own entries are never evicted).
pub(super) struct LruOrder {
    before: i64,
    now_ms: i64,
    /// Rows read ahead, the next one last.
    fetched: Vec<Candidate>,
    rows_after: i64,
    rows_done: bool,
    reads_after: i64,
    next_row: Option<Candidate>,
    next_read: Option<Candidate>,
}

impl LruOrder {
    pub(super) fn new(before: i64, now_ms: i64) -> LruOrder {
        LruOrder {
            before,
            now_ms,
            fetched: Vec::new(),
            rows_after: i64::MIN,
            rows_done: false,
            reads_after: i64::MIN,
            next_row: None,
            next_read: None,
        }
    }

    /// The least recently used entry not yet returned.
    pub(super) fn next(&mut self, tx: &Connection, recency: &Recency) -> Result<Option<Candidate>> {
        if self.next_row.is_none() {
            self.next_row = self.row(tx, recency)?;
        }
        if self.next_read.is_none() {
            self.next_read = self.read(tx, recency)?;
        }
        let row_first = match (&self.next_row, &self.next_read) {
            (Some(row), Some(read)) => row.stamp < read.stamp,
            (row, _) => row.is_some(),
        };
        Ok(if row_first { self.next_row.take() } else { self.next_read.take() })
    }

    /// The next row by id whose entry has no later read pending (such an
    /// entry comes from `read`, at its read's place).
    fn row(&mut self, tx: &Connection, recency: &Recency) -> Result<Option<Candidate>> {
        loop {
            if self.fetched.is_empty() && !self.rows_done {
                self.fetch_rows(tx)?;
            }
            let Some(candidate) = self.fetched.pop() else { return Ok(None) };
            if recency.read_stamp(&candidate.ns, &candidate.key).is_none_or(|read| read < candidate.id) {
                return Ok(Some(candidate));
            }
        }
    }

    fn fetch_rows(&mut self, tx: &Connection) -> Result<()> {
        let rows: Vec<_> = tx
            .prepare_cached(ROWS_SQL)?
            .query_map(params![self.rows_after, self.before, self.now_ms], |row| {
                Ok(Candidate {
                    stamp: row.get(0)?,
                    id: row.get(0)?,
                    ns: row.get(1)?,
                    key: row.get(2)?,
                    size: row.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        self.rows_done = (rows.len() as u64) < EVICTION_BATCH;
        if let Some(last) = rows.last() {
            self.rows_after = last.id;
        }
        self.fetched.extend(rows.into_iter().rev());
        Ok(())
    }

    /// The next pending read whose entry is still stored, live, and not
    /// written since (a later write's row comes from `row`).
    fn read(&mut self, tx: &Connection, recency: &Recency) -> Result<Option<Candidate>> {
        while let Some((stamp, (ns, key))) = recency.read_between(self.reads_after, self.before) {
            self.reads_after = stamp;
            let row: Option<(i64, u64)> = tx
                .prepare_cached(
                    "SELECT id, size FROM entries
                     WHERE ns = ?1 AND key = ?2 AND id < ?3 AND (expires_at IS NULL OR expires_at > ?4)",
                )?
                .query_row(params![ns, key, stamp, self.now_ms], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            if let Some((id, size)) = row {
                return Ok(Some(Candidate { stamp, id, ns: ns.clone(), key: key.clone(), size }));
            }
        }
        Ok(None)
    }
}
