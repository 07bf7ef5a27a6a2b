//! The SQLite side of larder: owns the connection, holds all SQL, and keeps
//! the size ledgers and LRU recency in step with what is committed. Every
//! write is one transaction; the ledgers change only when it commits.

use std::collections::HashMap;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql, Transaction, TransactionBehavior};

use crate::accounting::{ExpiryFloor, LedgerDelta, Ledgers, Recency, SizeLedger};
use crate::database::Database;
use crate::deadline;
use crate::error::{ErrorCode, Result, StorageError};
use crate::footprint;
use crate::options::{Durability, StoreOptions, MAX_SAFE_INTEGER};
use crate::schema::{self, SchemaState};
use crate::value::{EncodedValue, ValueKind};

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
/// Eviction candidates read per query.
macro_rules! eviction_batch {
    () => {
        64
    };
}
const PURGE_SOME_SQL: &str = concat!(
    "DELETE FROM entries WHERE id IN
       (SELECT id FROM entries WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ",
    lazy_purge_limit!(),
    ") RETURNING ns, size"
);
const PURGE_ALL_SQL: &str = "DELETE FROM entries WHERE expires_at <= ?1 RETURNING ns, size";
const EVICTION_SQL: &str = concat!(
    "SELECT id, ns, size FROM entries
     WHERE last_used < ?1 AND (expires_at IS NULL OR expires_at > ?2)
     ORDER BY last_used LIMIT ",
    eviction_batch!()
);

/// One entry of a write: its key, encoded value and size (see `accounting::entry_size`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: EncodedValue,
    pub size: u64,
}

/// One caller's set in a group commit.
pub struct GroupedSet<'a> {
    pub ns: &'a str,
    pub entry: &'a Entry,
    pub expires_at: Option<i64>,
}

/// `keys()` arguments, already validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyQuery {
    pub prefix: String,
    pub after: Option<String>,
    pub limit: Option<u64>,
}

/// What `count`, `total_size`, `clear` and `purge_expired` act on: the whole
/// store (the root store's calls) or one namespace (a view's calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Store,
    Namespace(&'a str),
}

pub struct Store {
    /// `None` only while closing.
    db: Option<Database>,
    ledgers: Ledgers,
    recency: Recency,
    max_size_bytes: Option<u64>,
    expiry_floor: ExpiryFloor,
    /// The last write failed in its commit and what it wrote could not be
    /// discarded: it may still come back after a crash.
    commit_unsettled: bool,
}

impl Store {
    /// Readies an opened database (see `prepare_connection`); on failure the
    /// database is closed and released, unchanged.
    pub fn open(mut db: Database, options: &StoreOptions) -> Result<Store> {
        let prepared = deadline::install(&mut db.conn)
            .and_then(|()| prepare_connection(&db.conn, options, db.is_file()))
            .and_then(|prepared| Ok((prepared, earliest_expiry(&db.conn)?)));
        match prepared {
            Ok(((ledgers, last_stamp), expiry_floor)) => Ok(Store {
                db: Some(db),
                ledgers,
                recency: Recency::starting_after(last_stamp),
                max_size_bytes: options.max_size_bytes,
                expiry_floor,
                commit_unsettled: false,
            }),
            Err(error) => {
                let _ = db.close();
                Err(error)
            }
        }
    }

    /// Persists the recency of reads since the last write and gives back
    /// every free page, closes the database (which checkpoints and deletes
    /// the WAL), then releases its file.
    pub fn close(mut self) -> Result<()> {
        let persisted = self.write(|write| write.release_free_pages());
        let closed = self.db.take().map_or(Ok(()), Database::close);
        persisted.and(closed)
    }

    fn db_mut(&mut self) -> &mut Connection {
        &mut self.db.as_mut().expect("the database is open until close").conn
    }

    fn conn(&self) -> &Connection {
        &self.db.as_ref().expect("the database is open until close").conn
    }

    pub fn set(&mut self, ns: &str, entry: &Entry, expires_at: Option<i64>, now_ms: i64) -> Result<()> {
        self.mset(ns, std::slice::from_ref(entry), expires_at, now_ms)
    }

    /// Sets from several callers, committed in one transaction (group
    /// commit), in order. Each runs under its own savepoint: a set that fails
    /// on its own is rolled back alone and its error returned in its place; a
    /// failure of storage itself fails the whole group.
    pub fn set_group(&mut self, sets: &[GroupedSet<'_>], now_ms: i64) -> Result<Vec<Result<()>>> {
        self.write(|write| {
            write.purge_some_expired(now_ms)?;
            sets.iter()
                .map(|set| {
                    deadline::check()?;
                    write.isolated(|write| write.put(set.ns, set.entry, set.expires_at, now_ms))
                })
                .collect()
        })
    }

    /// Writes `entry` unless a live entry already has its key (written
    /// meanwhile by someone else); returns the value that is then stored.
    pub fn insert_if_absent(
        &mut self,
        ns: &str,
        entry: &Entry,
        expires_at: Option<i64>,
        now_ms: i64,
    ) -> Result<EncodedValue> {
        self.write(|write| {
            write.purge_some_expired(now_ms)?;
            if let Some(existing) = read_live(write.tx, ns, &entry.key, now_ms)? {
                write.recency.touch(ns, &entry.key);
                return Ok(existing);
            }
            write.put(ns, entry, expires_at, now_ms)?;
            Ok(entry.value.clone())
        })
    }

    /// All entries or none: any failure, including a batch that cannot fit
    /// the budget even after evicting every other entry, rolls it all back.
    pub fn mset(&mut self, ns: &str, entries: &[Entry], expires_at: Option<i64>, now_ms: i64) -> Result<()> {
        self.write(|write| {
            write.purge_some_expired(now_ms)?;
            let first_new_stamp = write.recency.next_stamp();
            for entry in entries {
                deadline::check()?;
                write.upsert(ns, entry, expires_at)?;
            }
            write.make_room(first_new_stamp, now_ms)
        })
    }

    pub fn get(&mut self, ns: &str, key: &str, now_ms: i64) -> Result<Option<EncodedValue>> {
        let value = read_live(self.conn(), ns, key, now_ms)?;
        if value.is_some() {
            self.recency.touch(ns, key);
        }
        Ok(value)
    }

    /// Every value from one snapshot, in the order of `keys`.
    pub fn mget(&mut self, ns: &str, keys: &[String], now_ms: i64) -> Result<Vec<Option<EncodedValue>>> {
        let tx = self.db_mut().transaction_with_behavior(TransactionBehavior::Deferred)?;
        let values = keys.iter().map(|key| read_live(&tx, ns, key, now_ms)).collect::<Result<Vec<_>>>()?;
        tx.commit()?;
        for (key, value) in keys.iter().zip(&values) {
            if value.is_some() {
                self.recency.touch(ns, key);
            }
        }
        Ok(values)
    }

    /// Whether a live entry exists; does not refresh its recency.
    pub fn has(&mut self, ns: &str, key: &str, now_ms: i64) -> Result<bool> {
        let expires_at: Option<Option<i64>> = self
            .conn()
            .prepare_cached("SELECT expires_at FROM entries WHERE ns = ?1 AND key = ?2")?
            .query_row(params![ns, key], |row| row.get(0))
            .optional()?;
        Ok(expires_at.is_some_and(|expires_at| is_live(expires_at, now_ms)))
    }

    /// Whether a live entry was deleted (an expired one is removed silently).
    pub fn delete(&mut self, ns: &str, key: &str, now_ms: i64) -> Result<bool> {
        Ok(self.mdelete(ns, std::slice::from_ref(&key.to_owned()), now_ms)? == 1)
    }

    /// How many live entries were deleted, atomically.
    pub fn mdelete(&mut self, ns: &str, keys: &[String], now_ms: i64) -> Result<u64> {
        self.write(|write| {
            write.purge_some_expired(now_ms)?;
            let mut statement = write.tx.prepare_cached(
                "DELETE FROM entries WHERE ns = ?1 AND key = ?2 RETURNING size, expires_at",
            )?;
            let mut deleted = 0;
            for key in keys {
                deadline::check()?;
                let removed: Option<(u64, Option<i64>)> =
                    statement.query_row(params![ns, key], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
                if let Some((size, expires_at)) = removed {
                    write.delta.removed(ns, size);
                    deleted += u64::from(is_live(expires_at, now_ms));
                }
            }
            Ok(deleted)
        })
    }

    /// Deletes every entry of `ns` whose key starts with `prefix` (a key
    /// range, never a pattern), atomically, and gives back the pages freed;
    /// returns how many were live.
    pub fn invalidate(&mut self, ns: &str, prefix: &str, now_ms: i64) -> Result<u64> {
        let upper = prefix_successor(prefix.as_bytes());
        let sql = if upper.is_some() {
            "DELETE FROM entries WHERE ns = ?1 AND key >= ?2 AND key < ?3 RETURNING size, expires_at"
        } else {
            "DELETE FROM entries WHERE ns = ?1 AND key >= ?2 RETURNING size, expires_at"
        };
        self.write(|write| {
            write.purge_some_expired(now_ms)?;
            let mut statement = write.tx.prepare_cached(sql)?;
            let upper = upper.as_deref().map(TextBytes);
            let bound: &[&dyn ToSql] = match &upper {
                Some(upper) => &[&ns, &prefix, upper],
                None => &[&ns, &prefix],
            };
            let mut rows = statement.query(bound)?;
            let mut deleted = 0;
            while let Some(row) = rows.next()? {
                write.delta.removed(ns, row.get(0)?);
                deleted += u64::from(is_live(row.get(1)?, now_ms));
            }
            drop(rows);
            write.release_free_pages()?;
            Ok(deleted)
        })
    }

    /// Removes every entry of the scope and gives back the pages freed.
    pub fn clear(&mut self, scope: Scope) -> Result<()> {
        self.write(|write| {
            match scope {
                Scope::Store => {
                    write.tx.execute("DELETE FROM entries", [])?;
                    for (ns, ledger) in write.ledgers.namespaces() {
                        write.delta.emptying(ns, ledger);
                    }
                }
                Scope::Namespace(ns) => {
                    write.tx.execute("DELETE FROM entries WHERE ns = ?1", [ns])?;
                    write.delta.emptying(ns, write.ledgers.namespace(ns));
                }
            }
            write.release_free_pages()
        })
    }

    /// Removes every expired entry of the scope and gives back the pages
    /// freed; returns how many.
    pub fn purge_expired(&mut self, scope: Scope, now_ms: i64) -> Result<u64> {
        self.write(|write| {
            let (sql, ns) = match scope {
                Scope::Store => (PURGE_ALL_SQL, None),
                Scope::Namespace(ns) => {
                    ("DELETE FROM entries WHERE expires_at <= ?1 AND ns = ?2 RETURNING ns, size", Some(ns))
                }
            };
            let mut statement = write.tx.prepare_cached(sql)?;
            let mut rows = match ns {
                Some(ns) => statement.query(params![now_ms, ns])?,
                None => statement.query([now_ms])?,
            };
            let mut purged = 0;
            while let Some(row) = rows.next()? {
                write.delta.removed(&row.get::<_, String>(0)?, row.get(1)?);
                purged += 1;
            }
            drop(rows);
            *write.expiry_floor = earliest_expiry(write.tx)?;
            write.release_free_pages()?;
            Ok(purged)
        })
    }

    /// Live keys of a namespace in UTF-8 byte order. The prefix is a key range,
    /// never a pattern: `%`, `_` and case mean nothing special.
    pub fn keys(&mut self, ns: &str, query: &KeyQuery, now_ms: i64) -> Result<Vec<String>> {
        let upper = prefix_successor(query.prefix.as_bytes());
        let mut sql = String::from(
            "SELECT key FROM entries WHERE ns = ?1 AND key >= ?2 AND (expires_at IS NULL OR expires_at > ?3)",
        );
        if upper.is_some() {
            sql.push_str(" AND key < ?4");
        }
        if query.after.is_some() {
            sql.push_str(" AND key > ?5");
        }
        sql.push_str(" ORDER BY key LIMIT ?6");
        let mut statement = self.conn().prepare_cached(&sql)?;
        let limit = query.limit.map_or(-1, |limit| limit.min(i64::MAX as u64) as i64);
        let upper = upper.as_deref().map(TextBytes);
        let mut rows = statement.query(params![ns, query.prefix, now_ms, upper, query.after, limit])?;
        let mut keys = Vec::new();
        while let Some(row) = rows.next()? {
            keys.push(row.get(0)?);
        }
        Ok(keys)
    }

    /// Live entries of the scope.
    pub fn count(&mut self, scope: Scope, now_ms: i64) -> Result<u64> {
        Ok(self.live(scope, now_ms)?.rows)
    }

    /// That the database file is still this store's (see `Database::confirm_owned`).
    pub fn confirm_owned(&self) -> Result<()> {
        self.db.as_ref().map_or(Ok(()), Database::confirm_owned)
    }

    /// Bytes of the live entries of the scope.
    pub fn total_size(&mut self, scope: Scope, now_ms: i64) -> Result<u64> {
        Ok(self.live(scope, now_ms)?.bytes)
    }

    fn live(&self, scope: Scope, now_ms: i64) -> Result<SizeLedger> {
        let stored = match scope {
            Scope::Store => self.ledgers.total(),
            Scope::Namespace(ns) => self.ledgers.namespace(ns),
        };
        Ok(stored.live(expired(self.conn(), self.expiry_floor, scope, now_ms)?))
    }

    /// Runs `body` in one immediate transaction that first persists the
    /// recency of recent reads and last trims the free pages (see
    /// `footprint`); moves the ledgers by what it changed only if it commits.
    /// On failure the reads' recency is kept for the next write.
    fn write<T>(&mut self, body: impl FnOnce(&mut Write) -> Result<T>) -> Result<T> {
        self.commit_unsettled = false;
        let floor_before = self.expiry_floor;
        let Store { db, ledgers, recency, max_size_bytes, expiry_floor, .. } = self;
        let conn = &mut db.as_mut().expect("the database is open until close").conn;
        let dirty = recency.take_dirty();
        let outcome: Result<(T, LedgerDelta, bool)> = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut write = Write {
                tx: &tx,
                ledgers,
                recency,
                delta: LedgerDelta::default(),
                max_size_bytes: *max_size_bytes,
                expiry_floor,
                pages_released: false,
            };
            persist_recency(write.tx, &dirty)?;
            let result = body(&mut write)?;
            let pages_released = footprint::trim_free_pages(write.tx)? || write.pages_released;
            let delta = write.delta;
            tx.commit()?;
            Ok((result, delta, pages_released))
        })();
        match outcome {
            Ok((result, delta, pages_released)) => {
                self.ledgers.apply(&delta);
                if pages_released {
                    self.shrink_file();
                }
                Ok(result)
            }
            Err(error) => {
                self.recency.restore_dirty(dirty);
                // A purge inside the rolled-back transaction may have raised it.
                self.expiry_floor = floor_before;
                if matches!(error.code(), ErrorCode::Io | ErrorCode::QuotaExceeded) {
                    self.commit_unsettled = !self.discard_failed_commit();
                }
                Err(error)
            }
        }
    }

    /// After a commit that gave pages back, checkpoints at once so the file
    /// shrinks and the WAL is emptied now, not at the next checkpoint. The
    /// commit stands either way: if this fails, the next checkpoint does it.
    fn shrink_file(&self) {
        if self.db.as_ref().is_some_and(Database::is_file) {
            let _ = footprint::truncate_wal(self.conn());
        }
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

    /// Whether the last write failed in a way that may still have an effect
    /// (see `discard_failed_commit`): such a write must not be retried.
    pub fn failed_write_may_persist(&self) -> bool {
        self.commit_unsettled
    }

    /// Counts the commits from now on (for tests that count transactions).
    #[cfg(test)]
    pub fn count_commits(&mut self) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
        let commits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = commits.clone();
        let hook = move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            false
        };
        self.db_mut().commit_hook(Some(hook)).expect("a commit hook can be set");
        commits
    }

    /// Recounts from the table: what the ledgers must always equal.
    pub fn recount(&self) -> Result<Ledgers> {
        Ok(Ledgers::from_counts(count_by_namespace(self.conn())?))
    }

    /// Recounts the live entries from the table, as `SUM(size)`: what
    /// `count` and `total_size` of the whole store must always equal.
    pub fn recount_live(&self, now_ms: i64) -> Result<SizeLedger> {
        Ok(self.conn().query_row(
            "SELECT count(*), total(size) FROM entries WHERE expires_at IS NULL OR expires_at > ?1",
            [now_ms],
            |row| Ok(SizeLedger { rows: row.get(0)?, bytes: total_bytes(row, 1)? }),
        )?)
    }

    pub fn ledgers(&self) -> &Ledgers {
        &self.ledgers
    }
}

/// Readies a freshly opened connection: checks (reading only) that the
/// database is larder's or empty, leaving any other file untouched; for a
/// file, sets exclusive locking, WAL and the sync level the durability asks
/// for (`"full"`: the WAL is fsynced before a commit returns; `"normal"`:
/// only at checkpoints) and the WAL's bound; creates the schema if empty, or
/// switches on incremental vacuum in a file made without it. Returns the
/// recounted ledgers and the last recency stamp.
fn prepare_connection(conn: &Connection, options: &StoreOptions, is_file: bool) -> Result<(Ledgers, i64)> {
    if is_file {
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    }
    let state = schema::inspect(conn)?;
    if state == SchemaState::Empty {
        // Before WAL mode: switching to it writes the file's first page, after
        // which SQLite ignores a change of auto_vacuum (see `schema::create`).
        schema::create(conn)?;
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
    if state == SchemaState::Current && schema::enable_incremental_vacuum(conn)? && is_file {
        footprint::truncate_wal(conn)?;
    }
    let ledgers = Ledgers::from_counts(count_by_namespace(conn)?);
    let last_stamp =
        conn.query_row("SELECT coalesce(max(last_used), 0) FROM entries", [], |row| row.get(0))?;
    Ok((ledgers, last_stamp))
}

/// One write transaction in progress.
struct Write<'a> {
    tx: &'a Transaction<'a>,
    ledgers: &'a Ledgers,
    recency: &'a mut Recency,
    delta: LedgerDelta,
    max_size_bytes: Option<u64>,
    expiry_floor: &'a mut ExpiryFloor,
    /// Free pages were given back: the file shrinks at the next checkpoint.
    pages_released: bool,
}

impl Write<'_> {
    /// Gives back every free page, after a removal meant to free space.
    fn release_free_pages(&mut self) -> Result<()> {
        self.pages_released |= footprint::release_free_pages(self.tx)?;
        Ok(())
    }

    /// Writes one entry, evicting what it takes to fit it.
    fn put(&mut self, ns: &str, entry: &Entry, expires_at: Option<i64>, now_ms: i64) -> Result<()> {
        let first_new_stamp = self.recency.next_stamp();
        self.upsert(ns, entry, expires_at)?;
        self.make_room(first_new_stamp, now_ms)
    }

    /// Inserts or replaces an entry with the next recency stamp.
    fn upsert(&mut self, ns: &str, entry: &Entry, expires_at: Option<i64>) -> Result<()> {
        let stamp = self.recency.stamp();
        upsert(self.tx, ns, entry, expires_at, stamp, &mut self.delta)?;
        self.expiry_floor.note(expires_at);
        Ok(())
    }

    /// Runs `body` under a savepoint. If it fails on its own (not storage
    /// itself), only its changes are rolled back and its error is returned
    /// inside `Ok`; a storage failure is returned as is, for the whole
    /// transaction to fail.
    fn isolated(&mut self, body: impl FnOnce(&mut Self) -> Result<()>) -> Result<Result<()>> {
        self.tx.prepare_cached("SAVEPOINT grouped")?.execute([])?;
        let delta = self.delta.clone();
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
                Ok(Err(error))
            }
        }
    }

    /// Removes up to `lazy_purge_limit!()` expired rows, oldest expiry first:
    /// every data write does this on the side.
    fn purge_some_expired(&mut self, now_ms: i64) -> Result<()> {
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
        if purged < lazy_purge_limit!() {
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
    fn make_room(&mut self, first_new_stamp: i64, now_ms: i64) -> Result<()> {
        let Some(budget) = self.max_size_bytes else { return Ok(()) };
        if self.stored_bytes() <= budget as i64 {
            return Ok(());
        }
        self.purge_all_expired(now_ms)?;
        let mut live = self.stored_bytes();
        while live > budget as i64 {
            let victims: Vec<(i64, String, u64)> = self
                .tx
                .prepare_cached(EVICTION_SQL)?
                .query_map(params![first_new_stamp, now_ms], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            if victims.is_empty() {
                return Err(StorageError::ValueTooLarge(format!(
                    "the write needs {live} bytes of live entries, more than maxSizeBytes ({budget}) even after evicting every other entry"
                )));
            }
            let mut delete = self.tx.prepare_cached("DELETE FROM entries WHERE id = ?1")?;
            for (id, ns, size) in victims {
                if live <= budget as i64 {
                    break;
                }
                delete.execute([id])?;
                self.delta.removed(&ns, size);
                live -= size as i64;
            }
        }
        Ok(())
    }
}

fn count_by_namespace(conn: &Connection) -> Result<Vec<(String, SizeLedger)>> {
    let mut statement =
        conn.prepare("SELECT ns, count(*), total(size), min(size), max(size) FROM entries GROUP BY ns")?;
    let counts = statement
        .query_map([], |row| {
            // Sizes larder never writes are damage, found here at the open.
            for index in [3, 4] {
                let size: i64 = row.get(index)?;
                if !(0.0..=MAX_SAFE_INTEGER).contains(&(size as f64)) {
                    return Err(rusqlite::Error::IntegralValueOutOfRange(index, size));
                }
            }
            Ok((row.get(0)?, SizeLedger { rows: row.get(1)?, bytes: total_bytes(row, 2)? }))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(counts)
}

/// A `total(size)` as bytes. Unlike `sum`, `total` cannot fail with "integer
/// overflow"; it adds as a float, exactly while the total is below 2^53.
fn total_bytes(row: &rusqlite::Row, index: usize) -> rusqlite::Result<u64> {
    let total: f64 = row.get(index)?;
    match total >= 0.0 && total < u64::MAX as f64 {
        true => Ok(total as u64),
        false => Err(rusqlite::Error::IntegralValueOutOfRange(index, total as i64)),
    }
}

/// The earliest expiry stored, as an expiry floor.
fn earliest_expiry(conn: &Connection) -> Result<ExpiryFloor> {
    let earliest = conn
        .prepare_cached("SELECT min(expires_at) FROM entries WHERE expires_at IS NOT NULL")?
        .query_row([], |row| row.get(0))?;
    Ok(ExpiryFloor::new(earliest))
}

/// Rows and bytes of the scope that have expired but are still stored.
fn expired(conn: &Connection, floor: ExpiryFloor, scope: Scope, now_ms: i64) -> Result<SizeLedger> {
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

/// Writes the recency stamps of reads made since the last write.
fn persist_recency(tx: &Transaction, dirty: &HashMap<(String, String), i64>) -> Result<()> {
    if dirty.is_empty() {
        return Ok(());
    }
    let mut statement =
        tx.prepare_cached("UPDATE entries SET last_used = ?3 WHERE ns = ?1 AND key = ?2 AND last_used < ?3")?;
    for ((ns, key), stamp) in dirty {
        statement.execute(params![ns, key, stamp])?;
    }
    Ok(())
}

fn is_live(expires_at: Option<i64>, now_ms: i64) -> bool {
    expires_at.is_none_or(|expires_at| now_ms < expires_at)
}

fn read_live(conn: &Connection, ns: &str, key: &str, now_ms: i64) -> Result<Option<EncodedValue>> {
    let row: Option<(i64, Vec<u8>, Option<i64>)> = conn
        .prepare_cached("SELECT kind, value, expires_at FROM entries WHERE ns = ?1 AND key = ?2")?
        .query_row(params![ns, key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    match row {
        Some((kind, bytes, expires_at)) if is_live(expires_at, now_ms) => {
            Ok(Some(EncodedValue { kind: ValueKind::from_stored(kind)?, bytes }))
        }
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
        Some(old_size) => delta.replaced(ns, old_size, entry.size),
        None => delta.inserted(ns, entry.size),
    }
    Ok(())
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
    use crate::error::ErrorCode;

    const ALL: Scope = Scope::Store;

    fn entry(key: &str, json: &str, size: u64) -> Entry {
        Entry {
            key: key.into(),
            value: EncodedValue { kind: ValueKind::Json, bytes: json.as_bytes().to_vec() },
            size,
        }
    }

    fn open(budget: Option<u64>) -> Store {
        let options = StoreOptions { max_size_bytes: budget, ..StoreOptions::default() };
        Store::open(Database::in_memory().unwrap(), &options).unwrap()
    }

    fn put(store: &mut Store, key: &str, size: u64) {
        store.set("", &entry(key, "1", size), None, 0).unwrap();
    }

    fn check_ledgers(store: &Store) {
        assert_eq!(store.ledgers(), &store.recount().unwrap());
    }

    fn live_keys(store: &mut Store) -> Vec<String> {
        store.keys("", &KeyQuery::default(), 0).unwrap()
    }

    #[test]
    fn sizes_follow_overwrites_deletes_and_clear() {
        let mut store = open(None);
        put(&mut store, "component:react:button", 100);
        put(&mut store, "block:react:dashboard-01", 200);
        assert_eq!(store.total_size(ALL, 0).unwrap(), 300);
        assert!(store.delete("", "component:react:button", 0).unwrap());
        assert_eq!(store.total_size(ALL, 0).unwrap(), 200);
        put(&mut store, "block:react:dashboard-01", 50);
        assert_eq!((store.count(ALL, 0).unwrap(), store.total_size(ALL, 0).unwrap()), (1, 50));
        check_ledgers(&store);
        store.clear(ALL).unwrap();
        assert_eq!((store.count(ALL, 0).unwrap(), store.total_size(ALL, 0).unwrap()), (0, 0));
        check_ledgers(&store);
    }

    #[test]
    fn a_failed_batch_changes_nothing() {
        let mut store = open(None);
        put(&mut store, "a", 10);
        // The third write of the batch fails inside the transaction.
        store
            .conn()
            .execute_batch(
                "CREATE TEMP TRIGGER refuse_c BEFORE INSERT ON entries WHEN NEW.key = 'c'
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .unwrap();
        let batch = [entry("b", "2", 20), entry("a", "9", 99), entry("c", "3", 30)];
        let error = store.mset("", &batch, None, 0).unwrap_err();
        assert_eq!(error.sqlite_code(), Some(rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER));
        assert_eq!(store.get("", "a", 0).unwrap().unwrap().bytes, b"1");
        assert_eq!(store.get("", "b", 0).unwrap(), None);
        assert_eq!((store.count(ALL, 0).unwrap(), store.total_size(ALL, 0).unwrap()), (1, 10));
        check_ledgers(&store);
    }

    #[test]
    fn expired_entries_are_invisible_accounted_until_removed_and_purged() {
        let mut store = open(None);
        store.set("", &entry("short", "1", 5), Some(1000), 0).unwrap();
        store.set("", &entry("long", "1", 7), None, 0).unwrap();
        assert!(store.has("", "short", 999).unwrap());
        assert!(!store.has("", "short", 1000).unwrap());
        assert_eq!(store.get("", "short", 1000).unwrap(), None);
        assert_eq!((store.count(ALL, 1000).unwrap(), store.total_size(ALL, 1000).unwrap()), (1, 7));
        assert_eq!(store.keys("", &KeyQuery::default(), 1000).unwrap(), vec!["long"]);
        assert_eq!(store.recount().unwrap().total(), SizeLedger { rows: 2, bytes: 12 }, "still stored");
        assert_eq!(store.purge_expired(ALL, 1000).unwrap(), 1);
        assert_eq!(store.recount().unwrap().total(), SizeLedger { rows: 1, bytes: 7 });
        check_ledgers(&store);
    }

    #[test]
    fn writes_remove_a_bounded_number_of_expired_rows() {
        let mut store = open(None);
        let batch: Vec<Entry> = (0..100).map(|i| entry(&format!("old{i:03}"), "1", 1)).collect();
        store.mset("", &batch, Some(10), 0).unwrap();
        put(&mut store, "fresh", 1);
        assert_eq!(store.recount().unwrap().total().rows, 101, "nothing expired yet");
        store.set("", &entry("later", "1", 1), None, 10).unwrap();
        assert_eq!(store.recount().unwrap().total().rows, 102 - lazy_purge_limit!());
        check_ledgers(&store);
    }

    #[test]
    fn eviction_removes_least_recently_used_entries_and_no_more() {
        let mut store = open(Some(100));
        for key in ["a", "b", "c", "d"] {
            put(&mut store, key, 25);
        }
        // Reading "a" makes "b" the least recently used; `has` refreshes nothing.
        assert!(store.get("", "a", 0).unwrap().is_some());
        assert!(store.has("", "b", 0).unwrap());
        put(&mut store, "e", 30);
        // 130 bytes: evicting b leaves 105, evicting c leaves 80; d stays.
        assert_eq!(live_keys(&mut store), vec!["a", "d", "e"]);
        assert_eq!(store.total_size(ALL, 0).unwrap(), 80);
        check_ledgers(&store);
    }

    #[test]
    fn a_write_that_cannot_fit_fails_and_evicts_nothing() {
        let mut store = open(Some(100));
        put(&mut store, "a", 60);
        let batch = [entry("b", "1", 60), entry("c", "1", 60)];
        let error = store.mset("", &batch, None, 0).unwrap_err();
        assert_eq!(error.code(), ErrorCode::ValueTooLarge);
        assert_eq!(live_keys(&mut store), vec!["a"]);
        check_ledgers(&store);
    }

    #[test]
    fn the_statements_of_every_write_are_not_prepared_again_when_bound() {
        use rusqlite::StatementStatus;
        let store = open(None);
        for sql in [PURGE_SOME_SQL, EVICTION_SQL] {
            let mut statement = store.conn().prepare(sql).unwrap();
            for now_ms in [10_i64, 20, 30] {
                let mut rows = match statement.parameter_count() {
                    1 => statement.query([now_ms]).unwrap(),
                    _ => statement.query([now_ms, now_ms]).unwrap(),
                };
                while rows.next().unwrap().is_some() {}
            }
            assert_eq!(statement.get_status(StatementStatus::RePrepare), 0, "{sql}");
        }
    }

    #[test]
    fn expired_entries_stay_out_of_the_totals_after_a_rolled_back_purge() {
        let mut store = open(Some(100));
        store.mset("", &[entry("a", "1", 10), entry("b", "1", 10)], Some(10), 0).unwrap();
        put(&mut store, "kept", 10);
        // Purges "a" and "b", then cannot fit: rolled back, both come back, expired.
        let error = store.mset("", &[entry("c", "1", 60), entry("d", "1", 60)], None, 20).unwrap_err();
        assert_eq!(error.code(), ErrorCode::ValueTooLarge);
        assert_eq!(store.recount().unwrap().total().rows, 3);
        assert_eq!((store.count(ALL, 20).unwrap(), store.total_size(ALL, 20).unwrap()), (1, 10));
        assert_eq!(store.purge_expired(ALL, 20).unwrap(), 2);
        assert_eq!((store.count(ALL, 20).unwrap(), store.total_size(ALL, 20).unwrap()), (1, 10));
        check_ledgers(&store);
    }

    #[test]
    fn a_group_commit_writes_in_order_and_a_failing_member_fails_alone() {
        let mut store = open(Some(100));
        put(&mut store, "old", 30);
        let (a, too_big, b, a_again) =
            (entry("a", "1", 40), entry("huge", "1", 101), entry("b", "2", 40), entry("a", "3", 20));
        let group: Vec<GroupedSet> = [&a, &too_big, &b, &a_again]
            .into_iter()
            .map(|entry| GroupedSet { ns: "", entry, expires_at: None })
            .collect();
        let outcomes = store.set_group(&group, 0).unwrap();
        let codes: Vec<Option<ErrorCode>> =
            outcomes.iter().map(|outcome| outcome.as_ref().err().map(StorageError::code)).collect();
        assert_eq!(codes, vec![None, Some(ErrorCode::ValueTooLarge), None, None]);
        // As if set one by one: "old" was evicted to fit "b"; the later "a" won.
        assert_eq!(live_keys(&mut store), vec!["a", "b"]);
        assert_eq!(store.get("", "a", 0).unwrap().unwrap().bytes, b"3");
        assert_eq!(store.total_size(ALL, 0).unwrap(), 60);
        check_ledgers(&store);
    }

    #[test]
    fn read_recency_is_persisted_by_the_next_write_and_survives_a_failed_one() {
        let mut store = open(Some(75));
        for key in ["a", "b", "c"] {
            put(&mut store, key, 25);
        }
        store.get("", "a", 0).unwrap();
        let stored_stamp = |store: &Store, key: &str| -> i64 {
            store
                .conn()
                .query_row("SELECT last_used FROM entries WHERE key = ?1", [key], |row| row.get(0))
                .unwrap()
        };
        assert_eq!(stored_stamp(&store, "a"), 1, "a read writes nothing");
        let too_big = [entry("x", "1", 80)];
        assert!(store.mset("", &too_big, None, 0).is_err());
        assert_eq!(stored_stamp(&store, "a"), 1, "the failed write rolled its recency back");
        put(&mut store, "d", 25);
        assert!(stored_stamp(&store, "a") > stored_stamp(&store, "c"), "the read was kept and persisted");
        assert_eq!(live_keys(&mut store), vec!["a", "c", "d"]);
    }

    #[test]
    fn scopes_count_clear_and_purge_one_namespace_or_all() {
        let mut store = open(None);
        store.set("", &entry("k", "1", 1), None, 0).unwrap();
        store.set("ns", &entry("k", "2", 2), None, 0).unwrap();
        store.set("ns", &entry("t", "2", 4), Some(5), 0).unwrap();
        store.set("ns2", &entry("k", "3", 8), Some(5), 0).unwrap();
        assert_eq!(store.get("ns", "k", 0).unwrap().unwrap().bytes, b"2");
        assert_eq!(store.total_size(Scope::Namespace("ns"), 0).unwrap(), 6);
        assert_eq!(store.total_size(Scope::Namespace("ns"), 5).unwrap(), 2);
        assert_eq!(store.total_size(ALL, 5).unwrap(), 3);
        assert_eq!(store.purge_expired(Scope::Namespace("ns"), 5).unwrap(), 1);
        assert_eq!(store.recount().unwrap().namespace("ns2").rows, 1, "another namespace is not purged");
        store.clear(Scope::Namespace("ns")).unwrap();
        assert_eq!(store.count(Scope::Namespace("ns"), 5).unwrap(), 0);
        assert_eq!(store.get("", "k", 5).unwrap().unwrap().bytes, b"1");
        check_ledgers(&store);
    }

    #[test]
    fn prefixes_are_literal_ranges_for_keys_and_invalidate() {
        let mut store = open(None);
        let keys = ["a%", "a%b", "a_", "ab", "A", "a", "a\0", "a\0b", "a\\", "é", "\u{10ffff}x", "b"];
        for key in keys {
            put(&mut store, key, 1);
        }
        store.set("other", &entry("a%", "1", 1), None, 0).unwrap();
        let keys = |store: &mut Store, prefix: &str| {
            let query = KeyQuery { prefix: prefix.into(), ..KeyQuery::default() };
            store.keys("", &query, 0).unwrap()
        };
        assert_eq!(keys(&mut store, "a%"), vec!["a%", "a%b"]);
        assert_eq!(keys(&mut store, "a_"), vec!["a_"]);
        assert_eq!(keys(&mut store, "a\0"), vec!["a\0", "a\0b"]);
        assert_eq!(keys(&mut store, "A"), vec!["A"]);
        assert_eq!(keys(&mut store, "\u{10ffff}"), vec!["\u{10ffff}x"]);
        assert_eq!(keys(&mut store, "a").len(), 8);
        let all = keys(&mut store, "");
        let mut sorted = all.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!((all.len(), &all), (12, &sorted));
        let page = KeyQuery { prefix: "a".into(), after: Some("a%b".into()), limit: Some(2) };
        assert_eq!(store.keys("", &page, 0).unwrap(), vec!["a\\", "a_"]);

        assert_eq!(store.invalidate("", "a%", 0).unwrap(), 2);
        assert_eq!(store.invalidate("", "a", 0).unwrap(), 6);
        assert_eq!(keys(&mut store, ""), vec!["A", "b", "é", "\u{10ffff}x"]);
        assert_eq!(
            store.keys("other", &KeyQuery::default(), 0).unwrap(),
            vec!["a%"],
            "other namespace untouched"
        );
        assert_eq!(store.invalidate("", "", 0).unwrap(), 4);
        check_ledgers(&store);
    }

    #[test]
    fn insert_if_absent_keeps_a_live_entry_and_replaces_an_expired_one() {
        let mut store = open(None);
        assert_eq!(store.insert_if_absent("", &entry("k", "1", 1), None, 0).unwrap().bytes, b"1");
        assert_eq!(
            store.insert_if_absent("", &entry("k", "2", 2), None, 0).unwrap().bytes,
            b"1",
            "live: kept"
        );
        store.set("", &entry("t", "1", 1), Some(10), 0).unwrap();
        assert_eq!(
            store.insert_if_absent("", &entry("t", "2", 2), None, 10).unwrap().bytes,
            b"2",
            "expired: replaced"
        );
        assert_eq!(store.total_size(ALL, 10).unwrap(), 3);
        check_ledgers(&store);
    }

    /// `(free pages, all pages)` of the store's database.
    fn pages(store: &Store) -> (i64, i64) {
        let pragma = |name: &str| store.conn().pragma_query_value(None, name, |row| row.get(0)).unwrap();
        (pragma("freelist_count"), pragma("page_count"))
    }

    /// `count` entries of about 1 KB each, keyed `{prefix}{i}`.
    fn kilobytes(prefix: &str, count: usize) -> Vec<Entry> {
        let json = format!("\"{}\"", "x".repeat(1000));
        (0..count).map(|i| entry(&format!("{prefix}{i:04}"), &json, 1000)).collect()
    }

    #[test]
    fn clear_invalidate_and_purge_give_every_free_page_back() {
        let mut store = open(None);
        let (_, empty) = pages(&store);
        store.mset("", &kilobytes("a", 2000), None, 0).unwrap();
        store.mset("", &kilobytes("b", 10), None, 0).unwrap();
        assert!(pages(&store).1 > empty + 200);
        assert_eq!(store.invalidate("", "a", 0).unwrap(), 2000);
        assert_eq!(pages(&store).0, 0);
        assert!(pages(&store).1 < empty + 10, "{:?}", pages(&store));

        store.mset("", &kilobytes("a", 2000), Some(10), 0).unwrap();
        assert_eq!(store.purge_expired(ALL, 10).unwrap(), 2000);
        assert_eq!(pages(&store).0, 0);
        assert!(pages(&store).1 < empty + 10);

        store.mset("", &kilobytes("a", 2000), None, 0).unwrap();
        store.clear(ALL).unwrap();
        assert_eq!(pages(&store), (0, empty));
        check_ledgers(&store);
    }

    #[test]
    fn writes_leave_a_few_free_pages_and_trim_the_rest_in_steps() {
        let mut store = open(None);
        store.mset("", &kilobytes("k", 3000), None, 0).unwrap();
        let (mut kept_some, mut trimmed) = (false, false);
        for batch in 0..60 {
            let keys: Vec<String> = (batch * 50..(batch + 1) * 50).map(|i| format!("k{i:04}")).collect();
            let (_, before) = pages(&store);
            assert_eq!(store.mdelete("", &keys, 0).unwrap(), 50);
            let (free, total) = pages(&store);
            assert!(
                free <= footprint::FREE_PAGES_KEPT.max(total / 8),
                "batch {batch}: {free} of {total} free"
            );
            kept_some |= free > 0;
            trimmed |= total < before;
        }
        assert!(kept_some, "a write that frees a few pages leaves them for the next inserts");
        assert!(trimmed, "free pages past the threshold were given back");
    }

    #[test]
    fn expired_rows_go_before_live_ones_once_the_stored_total_is_over_the_budget() {
        let mut store = open(Some(100));
        let expiring: Vec<Entry> = (0..40).map(|i| entry(&format!("e{i:02}"), "1", 2)).collect();
        store.mset("", &expiring, Some(10), 0).unwrap();
        // 40 expired rows: the write removes 32 on the side; the 8 left plus
        // 90 bytes are over the budget, so they go too, and no live entry.
        put(&mut store, "live", 5);
        store.set("", &entry("big", "1", 90), None, 10).unwrap();
        assert_eq!(store.recount().unwrap().total(), SizeLedger { rows: 2, bytes: 95 });
        assert_eq!(live_keys(&mut store), vec!["big", "live"]);
        check_ledgers(&store);
    }

    #[test]
    fn prefix_successor_bounds() {
        assert_eq!(prefix_successor(b""), None);
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_successor("é".as_bytes()), Some(vec![0xc3, 0xaa]));
    }
}
