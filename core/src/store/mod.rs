//! The SQLite side of larder: owns the connection, holds all SQL, and keeps
//! the size ledgers and LRU recency in step with what is committed. This
//! module has the operations; `write` the unit of work every write runs in,
//! `eviction` the cache policy inside it, `rows` the table's rows,
//! `closed_ledgers` the ledgers a clean close leaves for the next open, and
//! `key_range` what a prefix means.

mod closed_ledgers;
pub(crate) mod eviction;
mod key_range;
pub(crate) mod lru_order;
mod rows;
#[cfg(test)]
mod tests;
mod write;

use rusqlite::{params, Connection, OptionalExtension, ToSql, TransactionBehavior};

use crate::accounting::{EntryKey, ExpiryFloor, Ledgers, Recency, SizeLedger};
use crate::database::Database;
use crate::deadline;
use crate::error::Result;
use crate::metrics::CoreMetrics;
use crate::options::StoreOptions;
use crate::schema;
use crate::value::EncodedValue;
use eviction::{earliest_expiry, expired, EvictedKeys, PURGE_ALL_SQL};
use key_range::{prefix_successor, TextBytes};
use rows::{count_ledgers, is_live, live_reader, read_live, read_live_with, total_bytes};
use write::Write;

/// One entry of a write: its key, encoded value and size (see `accounting::entry_size`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: EncodedValue,
    pub size: u64,
}

/// A live entry as a read finds it: its value, and when it expires (on the
/// store's clock; `None`: never).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadEntry {
    pub value: EncodedValue,
    pub expires_at: Option<i64>,
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
    /// The file's `closed_ledgers` hold `ledgers`: no write has changed a
    /// ledger since the open read them, or since this store left them.
    closed_ledgers_stand: bool,
    recency: Recency,
    /// What the writes committed since the facade last asked evicted.
    evicted: EvictedKeys,
    /// The last upsert inserted a new key (`rows::Upserts::upsert`).
    inserting: bool,
    max_size_bytes: Option<u64>,
    expiry_floor: ExpiryFloor,
    /// The last write failed in its commit and what it wrote could not be
    /// discarded: it may still come back after a crash.
    commit_unsettled: bool,
    /// The last write gave back a step of free pages, and more may be left:
    /// the next write looks again, whatever it changes.
    freeing_pages: bool,
    /// Commits, rollbacks, evictions and expired rows removed.
    metrics: std::rc::Rc<CoreMetrics>,
}

impl Store {
    /// Readies an opened database (see `schema::prepare`) and reads or
    /// recounts what it holds (`recount_at_open`); on failure the database is
    /// closed and released, unchanged.
    pub fn open(mut db: Database, options: &StoreOptions) -> Result<Store> {
        let prepared = deadline::install(&mut db.conn)
            .and_then(|()| schema::prepare(&db.conn, options, db.is_file()))
            .and_then(|()| recount_at_open(&db.conn));
        match prepared {
            Ok((ledgers, closed_ledgers_stand, last_stamp, expiry_floor)) => Ok(Store {
                db: Some(db),
                ledgers,
                closed_ledgers_stand,
                recency: Recency::starting_after(
                    last_stamp,
                    options.max_size_bytes.is_some(),
                    options.reads_persisted_at,
                ),
                evicted: EvictedKeys::default(),
                inserting: true,
                max_size_bytes: options.max_size_bytes,
                expiry_floor,
                commit_unsettled: false,
                freeing_pages: false,
                metrics: Default::default(),
            }),
            Err(error) => {
                let _ = db.close();
                Err(error)
            }
        }
    }

    /// Persists the recency of reads not yet persisted and gives back every
    /// free page, leaves the ledgers for the next open, closes the database
    /// (which checkpoints and deletes the WAL), then releases its file.
    pub fn close(mut self) -> Result<()> {
        let persisted = self.write_persisting(true, |write| write.release_free_pages());
        if persisted.is_ok() && !self.closed_ledgers_stand {
            // Once that write committed, the ledgers are what the file holds.
            // Leaving them only spares the next open a count: if it fails,
            // that open counts.
            let _ = closed_ledgers::save(self.conn(), &self.ledgers);
        }
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
    /// commit), in order. A set that fails on its own is rolled back alone
    /// and its error returned in its place; a failure of storage itself
    /// fails the whole group. Tried first as one plain transaction: a
    /// savepoint per member copies every page it changes into a sub-journal
    /// (about a tenth of a group's time in memory), and most groups have no
    /// member that fails. If one does, that attempt is rolled back and the
    /// group is written again with a savepoint per member.
    pub fn set_group(&mut self, sets: &[GroupedSet<'_>], now_ms: i64) -> Result<Vec<Result<()>>> {
        let put_all = |write: &mut Write, isolated: bool| -> Result<Vec<Result<()>>> {
            write.purge_some_expired(now_ms)?;
            (sets.iter())
                .map(|set| {
                    deadline::check()?;
                    let put = |write: &mut Write| write.put(set.ns, set.entry, set.expires_at, now_ms);
                    if isolated {
                        write.isolated(put)
                    } else {
                        put(write).map(Ok)
                    }
                })
                .collect()
        };
        match self.write_speculatively(|write| put_all(write, false)) {
            Err(error) if !error.is_storage_failure() => self.write(|write| put_all(write, true)),
            outcome => outcome,
        }
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
                return Ok(existing.value);
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

    pub fn get(&mut self, ns: &str, key: &str, now_ms: i64) -> Result<Option<ReadEntry>> {
        let entry = read_live(self.conn(), ns, key, now_ms)?;
        if entry.is_some() {
            self.recency.touch(ns, key);
        }
        Ok(entry)
    }

    /// Every live entry from one snapshot, in the order of `keys`.
    pub fn mget(&mut self, ns: &str, keys: &[String], now_ms: i64) -> Result<Vec<Option<ReadEntry>>> {
        let tx = self.db_mut().transaction_with_behavior(TransactionBehavior::Deferred)?;
        let entries = {
            let mut reader = live_reader(&tx)?;
            (keys.iter())
                .map(|key| read_live_with(&mut reader, ns, key, now_ms))
                .collect::<Result<Vec<_>>>()?
        };
        tx.commit()?;
        for (key, entry) in keys.iter().zip(&entries) {
            if entry.is_some() {
                self.recency.touch(ns, key);
            }
        }
        Ok(entries)
    }

    /// Reads of live entries answered outside the store, in the order they
    /// were answered (the facade's read cache, which answers only while the
    /// store is idle): each takes its place in the LRU order as a `get`'s
    /// would have, in memory until a write persists it.
    pub fn note_reads<'k>(&mut self, reads: impl IntoIterator<Item = (&'k str, &'k str)>) {
        for (ns, key) in reads {
            self.recency.touch(ns, key);
        }
    }

    /// The namespaces and keys of the entries evicted by the writes
    /// committed since the last call, in eviction order; `None` if there
    /// were more than it names (`eviction::EVICTED_NAMED`).
    pub fn take_evicted(&mut self) -> Option<Vec<EntryKey>> {
        self.evicted.take()
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
            write.expired_removed += purged;
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
        count_ledgers(self.conn())
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

    /// The counters this store adds to (shared with its engine).
    pub fn metrics(&self) -> std::rc::Rc<CoreMetrics> {
        self.metrics.clone()
    }

    /// The database file's bytes and its WAL's; 0 and 0 in memory.
    pub fn file_bytes(&self) -> (u64, u64) {
        match self.db.as_ref() {
            Some(db) if db.is_file() => crate::footprint::file_bytes(self.conn()),
            _ => (0, 0),
        }
    }

    pub fn ledgers(&self) -> &Ledgers {
        &self.ledgers
    }
}

/// What the open store keeps in memory: the ledgers (those a clean close
/// left, if they stand, else counted from every row), whether they were
/// left, the last recency stamp (the largest row id) and the earliest
/// expiry. Each but the count reads a few pages, whatever the store holds.
fn recount_at_open(conn: &Connection) -> Result<(Ledgers, bool, i64, ExpiryFloor)> {
    let (ledgers, stand) = match closed_ledgers::load(conn)? {
        Some(ledgers) => (ledgers, true),
        None => (count_ledgers(conn)?, false),
    };
    let last_stamp = conn.query_row("SELECT coalesce(max(id), 0) FROM entries", [], |row| row.get(0))?;
    Ok((ledgers, stand, last_stamp, earliest_expiry(conn)?))
}
