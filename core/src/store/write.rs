//! The unit of work: every write is one immediate transaction that first
//! persists the recency of recent reads when enough have gathered, and last
//! trims free pages if it may have freed any and deletes the closed ledgers
//! if it changed what they count; the
//! ledgers move by what it changed only if it commits, and a commit that
//! failed in I/O is discarded from the WAL. A group commit that fails as one
//! transaction runs again with each member under its own savepoint.

use rusqlite::{params, Connection};

use super::{closed_ledgers, rows, Entry, Store};
use crate::accounting::{EntryKey, ExpiryFloor, LedgerDelta, Ledgers, PendingReads, Recency};
use crate::database::Database;
use crate::error::{ErrorCode, Result, StorageError};
use crate::footprint;
use crate::metrics::add;

impl Store {
    /// Runs `body` in one immediate transaction that first persists the
    /// recency of recent reads if enough have gathered (`Recency::is_due`)
    /// and last trims the free pages (see `footprint`) unless it only
    /// inserted; moves the ledgers by
    /// what it changed only if it commits. On failure the reads' recency is
    /// kept for the next write.
    pub(super) fn write<T>(&mut self, body: impl FnOnce(&mut Write) -> Result<T>) -> Result<T> {
        let persist_reads = self.recency.is_due();
        self.write_persisting(persist_reads, body)
    }

    /// `write`, persisting every pending read if `persisting_reads`.
    pub(super) fn write_persisting<T>(
        &mut self,
        persisting_reads: bool,
        body: impl FnOnce(&mut Write) -> Result<T>,
    ) -> Result<T> {
        self.attempt_write(persisting_reads, Attempt::Final, body)
    }

    /// `write`, as an attempt that a failure sends to be made again another
    /// way (`set_group`): its rollback is not one the metrics count.
    pub(super) fn write_speculatively<T>(&mut self, body: impl FnOnce(&mut Write) -> Result<T>) -> Result<T> {
        let persist_reads = self.recency.is_due();
        self.attempt_write(persist_reads, Attempt::Speculative, body)
    }

    fn attempt_write<T>(
        &mut self,
        persisting_reads: bool,
        attempt: Attempt,
        body: impl FnOnce(&mut Write) -> Result<T>,
    ) -> Result<T> {
        self.commit_unsettled = false;
        let floor_before = self.expiry_floor;
        let closed_ledgers_stand = self.closed_ledgers_stand;
        let Store { db, ledgers, recency, inserting, max_size_bytes, expiry_floor, freeing_pages, .. } = self;
        let (conn, gives_pages_back) =
            db.as_ref().map(|db| (&db.conn, db.is_file())).expect("the database is open until close");
        let reads = if persisting_reads { recency.take_reads() } else { PendingReads::default() };
        // BEGIN and COMMIT as cached statements: rusqlite's `Transaction`
        // parses them again for every write.
        let outcome: Result<(T, LedgerDelta, Trimmed, Removed)> = (|| {
            conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
            let mut write = Write {
                tx: conn,
                ledgers,
                recency,
                inserting,
                upserts: rows::Upserts::new(conn),
                delta: LedgerDelta::default(),
                max_size_bytes: *max_size_bytes,
                expiry_floor,
                gives_pages_back,
                pages_released: false,
                evicted: Vec::new(),
                expired_removed: 0,
            };
            persist_reads(write.tx, &reads)?;
            let result = body(&mut write)?;
            let trimmed = write.trim(*freeing_pages || !reads.is_empty())?;
            let removed = Removed { evicted: write.evicted, expired: write.expired_removed };
            let delta = write.delta;
            if closed_ledgers_stand && !delta.is_empty() {
                closed_ledgers::forget(conn)?;
            }
            conn.prepare_cached("COMMIT")?.execute([])?;
            Ok((result, delta, trimmed, removed))
        })();
        if outcome.is_err() && !conn.is_autocommit() {
            if attempt == Attempt::Final {
                add(&self.metrics.rollbacks, 1);
            }
            let _ = conn.prepare_cached("ROLLBACK").and_then(|mut rollback| rollback.execute([]));
        }
        match outcome {
            Ok((result, delta, trimmed, removed)) => {
                self.committed(&delta, &trimmed, removed);
                Ok(result)
            }
            Err(error) => Err(self.failed(error, reads, floor_before)),
        }
    }

    /// What a write that failed leaves: the reads' recency kept for the next
    /// write, the expiry floor as it was before, and after a failure in I/O
    /// the failed commit discarded from the WAL.
    fn failed(
        &mut self,
        error: StorageError,
        reads: PendingReads,
        floor_before: ExpiryFloor,
    ) -> StorageError {
        self.recency.restore_reads(reads);
        // A purge inside the rolled-back transaction may have raised it.
        self.expiry_floor = floor_before;
        if matches!(error.code(), ErrorCode::Io | ErrorCode::QuotaExceeded) {
            self.commit_unsettled = !self.discard_failed_commit();
        }
        error
    }

    /// What a commit moves: the counters, the list of evicted entries, the
    /// ledgers by `delta`, and the file, shrunk now if free pages were given
    /// back.
    fn committed(&mut self, delta: &LedgerDelta, trimmed: &Trimmed, removed: Removed) {
        add(&self.metrics.commits, 1);
        add(&self.metrics.evictions, removed.evicted.len() as u64);
        add(&self.metrics.expired, removed.expired);
        self.evicted.extend(removed.evicted);
        self.ledgers.apply(delta);
        self.closed_ledgers_stand &= delta.is_empty();
        self.freeing_pages = trimmed.stepped;
        if trimmed.released {
            self.shrink_file();
        }
    }

    /// After a commit that gave pages back (only a file does), checkpoints
    /// at once so the file shrinks and the WAL is emptied now, not at the
    /// next checkpoint. The commit stands either way: if this fails, the
    /// next checkpoint does it.
    fn shrink_file(&self) {
        let _ = footprint::truncate_wal(self.conn());
    }

    /// After a write failed in I/O, its frames may sit in the WAL past the
    /// last commit (an fsync failed after they were written). SQLite no
    /// longer sees them, but crash recovery would, and would bring back a
    /// write its caller was told failed. A truncating checkpoint keeps only
    /// what committed. If the disk still fails, the next successful commit
    /// overwrites those frames and breaks their checksum chain instead.
    /// Returns whether the failed write is surely gone.
    fn discard_failed_commit(&self) -> bool {
        if !self.db.as_ref().is_some_and(Database::is_file) {
            return true;
        }
        self.conn().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).is_ok()
    }
}

/// Whether a write failing is the end of it, or sends it to be made again.
#[derive(PartialEq, Eq)]
enum Attempt {
    Final,
    Speculative,
}

/// What a write removed on the side: the entries it evicted for the budget
/// (their namespaces and keys) and how many expired rows.
struct Removed {
    evicted: Vec<EntryKey>,
    expired: u64,
}

/// What a write did about free pages.
struct Trimmed {
    /// It gave back a step of them (`footprint::trim_free_pages`).
    stepped: bool,
    /// It gave back any, in that step or on purpose (`release_free_pages`).
    released: bool,
}

/// One write transaction in progress.
pub(super) struct Write<'a> {
    /// The connection, inside the write's transaction.
    pub(super) tx: &'a Connection,
    pub(super) ledgers: &'a Ledgers,
    pub(super) recency: &'a mut Recency,
    /// The store's last upsert inserted (`rows::Upserts::upsert`).
    inserting: &'a mut bool,
    upserts: rows::Upserts<'a>,
    pub(super) delta: LedgerDelta,
    pub(super) max_size_bytes: Option<u64>,
    pub(super) expiry_floor: &'a mut ExpiryFloor,
    /// The database gives free pages back: a file, laid out with incremental
    /// vacuum (a database in memory is not: `schema::lay_out`).
    gives_pages_back: bool,
    /// Free pages were given back: the file shrinks at the next checkpoint.
    pages_released: bool,
    /// Live entries evicted for the budget, in order, and expired rows removed.
    pub(super) evicted: Vec<EntryKey>,
    pub(super) expired_removed: u64,
}

impl Write<'_> {
    /// Last in a write: gives back a step of free pages if it may have freed
    /// some, or if `look_anyway`. Inserts alone never free a page, so a write
    /// of only those skips the check and its pragmas.
    fn trim(&self, look_anyway: bool) -> Result<Trimmed> {
        let stepped = self.gives_pages_back
            && (look_anyway || self.delta.removed_or_rewrote())
            && footprint::trim_free_pages(self.tx)?;
        Ok(Trimmed { stepped, released: stepped || self.pages_released })
    }

    /// Gives back every free page, after a removal meant to free space.
    pub(super) fn release_free_pages(&mut self) -> Result<()> {
        if self.gives_pages_back {
            self.pages_released |= footprint::release_free_pages(self.tx)?;
        }
        Ok(())
    }

    /// Writes one entry, evicting what it takes to fit it.
    pub(super) fn put(
        &mut self,
        ns: &str,
        entry: &Entry,
        expires_at: Option<i64>,
        now_ms: i64,
    ) -> Result<()> {
        let first_new_stamp = self.recency.next_stamp();
        self.upsert(ns, entry, expires_at)?;
        self.make_room(first_new_stamp, now_ms)
    }

    /// Inserts or replaces an entry, with the next recency stamp.
    pub(super) fn upsert(&mut self, ns: &str, entry: &Entry, expires_at: Option<i64>) -> Result<()> {
        let placement = (self.recency.stamp(), self.recency.moves_overwrites());
        self.upserts.upsert(ns, entry, expires_at, placement, &mut self.delta, self.inserting)?;
        self.expiry_floor.note(expires_at);
        Ok(())
    }

    /// Runs `body` under a savepoint. If it fails on its own (not storage
    /// itself), only its changes are rolled back and its error is returned
    /// inside `Ok`; a storage failure is returned as is, for the whole
    /// transaction to fail.
    ///
    /// Not rusqlite's `Savepoint`: it borrows the transaction mutably for as
    /// long as it lives, while `body` writes through this `Write`, and it runs
    /// its SQL uncached, a parse per member of a group commit where these
    /// cached statements parse once.
    pub(super) fn isolated(&mut self, body: impl FnOnce(&mut Self) -> Result<()>) -> Result<Result<()>> {
        self.tx.prepare_cached("SAVEPOINT grouped")?.execute([])?;
        let (delta, evicted, expired) = (self.delta.clone(), self.evicted.len(), self.expired_removed);
        match body(self) {
            Ok(()) => {
                self.tx.prepare_cached("RELEASE grouped")?.execute([])?;
                Ok(Ok(()))
            }
            Err(error) if error.is_storage_failure() => Err(error),
            Err(error) => {
                self.tx.prepare_cached("ROLLBACK TO grouped")?.execute([])?;
                self.tx.prepare_cached("RELEASE grouped")?.execute([])?;
                self.delta = delta;
                self.evicted.truncate(evicted);
                self.expired_removed = expired;
                Ok(Err(error))
            }
        }
    }
}

/// Moves each entry read to its read's stamp, oldest read first, so the rows
/// are appended in order; an entry written since its read keeps its newer id.
fn persist_reads(tx: &Connection, reads: &PendingReads) -> Result<()> {
    // Most writes have none: not even the statement is taken from the cache
    // (a hash of its SQL text there and back, for each write).
    if reads.is_empty() {
        return Ok(());
    }
    let mut statement =
        tx.prepare_cached("UPDATE entries SET id = ?3 WHERE ns = ?1 AND key = ?2 AND id < ?3")?;
    for (stamp, (ns, key)) in reads.in_order() {
        statement.execute(params![ns, key, stamp])?;
    }
    Ok(())
}
