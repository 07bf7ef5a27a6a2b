//! Cache accounting: what an entry's size is, whether it fits the budget, the
//! running totals that make `count()` and `getCurrentCacheSize()` cheap, and
//! the in-memory recency that lets a read refresh LRU order without a write.

use std::collections::HashMap;

use crate::error::{Result, StorageError};
use crate::value::EncodedValue;

/// An entry's size: the caller's `size` if given, else the UTF-8 bytes of its
/// key plus the bytes of its encoded value. The namespace never counts.
pub fn entry_size(key: &str, value: &EncodedValue, explicit: Option<u64>) -> u64 {
    explicit.unwrap_or((key.len() + value.bytes.len()) as u64)
}

/// An entry bigger than the whole budget can never be stored.
pub fn check_fits_budget(key: &str, size: u64, max_size_bytes: Option<u64>) -> Result<()> {
    match max_size_bytes {
        Some(budget) if size > budget => Err(StorageError::ValueTooLarge(format!(
            "entry {key:?} is {size} bytes, more than maxSizeBytes ({budget})"
        ))),
        _ => Ok(()),
    }
}

/// Rows and bytes: of the whole store, of one namespace, or of its expired rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SizeLedger {
    pub rows: u64,
    pub bytes: u64,
}

impl SizeLedger {
    /// The totals of the live entries, given those of the expired rows.
    pub fn live(&self, expired: SizeLedger) -> SizeLedger {
        SizeLedger { rows: self.rows - expired.rows, bytes: self.bytes - expired.bytes }
    }
}

/// Rows and bytes of every stored row (expired or not, as committed), for the
/// whole store and per namespace.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ledgers {
    total: SizeLedger,
    by_namespace: HashMap<String, SizeLedger>,
}

impl Ledgers {
    /// Ledgers recounted from per-namespace totals.
    pub fn from_counts(counts: impl IntoIterator<Item = (String, SizeLedger)>) -> Ledgers {
        let mut ledgers = Ledgers::default();
        for (ns, ledger) in counts {
            ledgers.total.rows += ledger.rows;
            ledgers.total.bytes += ledger.bytes;
            ledgers.by_namespace.insert(ns, ledger);
        }
        ledgers
    }

    /// Counts one more row of `size` bytes in `ns`, as a recount finds it;
    /// None if a total would pass 2^64 (only damage can make it).
    pub fn count_row(&mut self, ns: &str, size: u64) -> Option<()> {
        let ledger = match self.by_namespace.get_mut(ns) {
            Some(ledger) => ledger,
            None => self.by_namespace.entry(ns.to_owned()).or_default(),
        };
        ledger.rows += 1;
        ledger.bytes = ledger.bytes.checked_add(size)?;
        self.total.rows += 1;
        self.total.bytes = self.total.bytes.checked_add(size)?;
        Some(())
    }

    pub fn total(&self) -> SizeLedger {
        self.total
    }

    pub fn namespace(&self, ns: &str) -> SizeLedger {
        self.by_namespace.get(ns).copied().unwrap_or_default()
    }

    /// Every namespace that holds rows, with its totals.
    pub fn namespaces(&self) -> impl Iterator<Item = (&str, SizeLedger)> {
        self.by_namespace.iter().map(|(ns, ledger)| (ns.as_str(), *ledger))
    }

    pub fn apply(&mut self, delta: &LedgerDelta) {
        for change in &delta.changes {
            let ledger = self.by_namespace.entry(change.ns.clone()).or_default();
            *ledger = shifted(*ledger, change.rows, change.bytes);
            if ledger.rows == 0 {
                debug_assert_eq!(ledger.bytes, 0, "an empty namespace holds no bytes");
                self.by_namespace.remove(&change.ns);
            }
            self.total = shifted(self.total, change.rows, change.bytes);
        }
    }
}

fn shifted(ledger: SizeLedger, rows: i64, bytes: i64) -> SizeLedger {
    SizeLedger {
        rows: ledger.rows.checked_add_signed(rows).expect("row count never goes negative"),
        bytes: ledger.bytes.checked_add_signed(bytes).expect("byte total never goes negative"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NamespaceChange {
    ns: String,
    rows: i64,
    bytes: i64,
}

/// What one transaction changes in the ledgers; applied only once it commits,
/// so a rolled-back write leaves the totals untouched.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LedgerDelta {
    changes: Vec<NamespaceChange>,
    /// A row was removed or rewritten, which may free pages; an insert never does.
    removed_or_rewrote: bool,
}

impl LedgerDelta {
    /// The change that removes every row counted in `ledger` from `ns`.
    pub fn emptying(&mut self, ns: &str, ledger: SizeLedger) {
        self.change(ns, -(ledger.rows as i64), -(ledger.bytes as i64));
    }

    pub fn inserted(&mut self, ns: &str, size: u64) {
        self.change(ns, 1, size as i64);
    }

    pub fn removed(&mut self, ns: &str, size: u64) {
        self.change(ns, -1, -(size as i64));
    }

    pub fn replaced(&mut self, ns: &str, old_size: u64, new_size: u64) {
        self.change(ns, 0, new_size as i64 - old_size as i64);
    }

    /// Whether the transaction changed no ledger.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Net bytes added to the whole store.
    pub fn bytes(&self) -> i64 {
        self.changes.iter().map(|change| change.bytes).sum()
    }

    /// Whether the change removed or rewrote a row: only then can a page
    /// have been freed.
    pub fn removed_or_rewrote(&self) -> bool {
        self.removed_or_rewrote
    }

    fn change(&mut self, ns: &str, rows: i64, bytes: i64) {
        self.removed_or_rewrote |= rows < 1;
        // A write touches one namespace or a few: a short scan beats hashing.
        match self.changes.iter_mut().find(|change| change.ns == ns) {
            Some(change) => {
                change.rows += rows;
                change.bytes += bytes;
            }
            None => self.changes.push(NamespaceChange { ns: ns.to_owned(), rows, bytes }),
        }
    }
}

/// Reads gathered before a write persists them (or the store closes): a
/// few hundred KiB of keys at most, and after a crash LRU order is as old as
/// the last persist.
pub const READS_PERSISTED_AT: usize = 1024;

/// A namespace and key.
pub type EntryKey = (String, String);

/// LRU recency, kept while there is a budget to evict for. A new entry takes
/// the next stamp as its row id, and so, with a budget, does an overwritten
/// one; a read hit takes the next stamp too,
/// kept here until enough reads have gathered (`is_due`) and a write
/// persists them in one go, so a read costs no disk write. An entry's
/// recency is the larger of its row id and its pending read's stamp;
/// eviction merges the two (`store::lru_order`). Without a budget nothing
/// is evicted: reads are not tracked and an overwrite leaves its row where
/// it is, so that writing a value an entry already holds changes no page.
#[derive(Debug, Default)]
pub struct Recency {
    next_stamp: i64,
    reads: PendingReads,
    /// There is a budget: reads and overwrites move entries.
    tracking: bool,
    persist_at: usize,
}

/// Reads not yet persisted: the latest per entry, and every read in stamp
/// order (a read superseded by a later one of the same entry is skipped).
#[derive(Debug, Default)]
pub struct PendingReads {
    latest: HashMap<EntryKey, i64>,
    log: Vec<(i64, EntryKey)>,
}

impl PendingReads {
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// Each entry's latest read, oldest first.
    pub fn in_order(&self) -> impl Iterator<Item = (i64, &EntryKey)> {
        self.log
            .iter()
            .filter(|(stamp, entry)| self.latest[entry] == *stamp)
            .map(|(stamp, entry)| (*stamp, entry))
    }
}

impl Recency {
    /// Continues after the largest stamp stored; tracks reads if there is a
    /// budget, due for persisting every `persist_at` reads.
    pub fn starting_after(last_stamp: i64, tracking: bool, persist_at: usize) -> Recency {
        Recency { next_stamp: last_stamp + 1, reads: PendingReads::default(), tracking, persist_at }
    }

    /// Whether an overwritten entry moves to the newest end.
    pub fn moves_overwrites(&self) -> bool {
        self.tracking
    }

    /// The stamp the next read or write will take.
    pub fn next_stamp(&self) -> i64 {
        self.next_stamp
    }

    pub fn stamp(&mut self) -> i64 {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        stamp
    }

    /// A read of `ns`/`key`: remembered until a write persists it.
    pub fn touch(&mut self, ns: &str, key: &str) {
        if !self.tracking {
            return;
        }
        let stamp = self.stamp();
        let entry = (ns.to_owned(), key.to_owned());
        self.reads.latest.insert(entry.clone(), stamp);
        self.reads.log.push((stamp, entry));
    }

    /// The stamp of the entry's pending read, if any.
    pub fn read_stamp(&self, ns: &str, key: &str) -> Option<i64> {
        self.reads.latest.get(&(ns.to_owned(), key.to_owned())).copied()
    }

    /// The first entry's latest read stamped after `after` and before `before`.
    pub fn read_between(&self, after: i64, before: i64) -> Option<(i64, &EntryKey)> {
        let log = &self.reads.log;
        let start = log.partition_point(|(stamp, _)| *stamp <= after);
        log[start..]
            .iter()
            .take_while(|(stamp, _)| *stamp < before)
            .find(|(stamp, entry)| self.reads.latest[entry] == *stamp)
            .map(|(stamp, entry)| (*stamp, entry))
    }

    /// Whether enough reads have gathered for the next write to persist them.
    pub fn is_due(&self) -> bool {
        self.reads.log.len() >= self.persist_at
    }

    /// The pending reads, for a write to persist.
    pub fn take_reads(&mut self) -> PendingReads {
        std::mem::take(&mut self.reads)
    }

    /// Gives back reads whose transaction rolled back, ahead of the reads
    /// made since (all later); a newer read of the same entry wins.
    pub fn restore_reads(&mut self, mut reads: PendingReads) {
        reads
            .log
            .retain(|(stamp, entry)| reads.latest[entry] == *stamp && !self.reads.latest.contains_key(entry));
        for (stamp, entry) in &reads.log {
            self.reads.latest.insert(entry.clone(), *stamp);
        }
        reads.log.append(&mut self.reads.log);
        self.reads.log = reads.log;
    }
}

/// A time before which no stored entry expires (`None`: no entry has an
/// expiry), so that the common case, nothing expired yet, costs no query.
/// It may be earlier than the true earliest expiry (a look then finds
/// nothing, and it is recomputed), never later.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryFloor(Option<i64>);

impl ExpiryFloor {
    /// From the earliest expiry stored.
    pub fn new(earliest: Option<i64>) -> ExpiryFloor {
        ExpiryFloor(earliest)
    }

    /// Whether some entry may have expired at `now_ms`.
    pub fn may_have_expired(self, now_ms: i64) -> bool {
        self.0.is_some_and(|floor| floor <= now_ms)
    }

    /// Takes in an entry written to expire at `expires_at`.
    pub fn note(&mut self, expires_at: Option<i64>) {
        if let Some(at) = expires_at {
            self.0 = Some(self.0.map_or(at, |floor| floor.min(at)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::value::ValueKind;

    #[test]
    fn size_is_key_bytes_plus_encoded_bytes_unless_stated() {
        let value = EncodedValue { kind: ValueKind::Json, bytes: b"\"abc\"".to_vec() };
        assert_eq!(entry_size("ké", &value, None), 3 + 5);
        assert_eq!(entry_size("ké", &value, Some(100)), 100);
        assert_eq!(entry_size("ké", &value, Some(0)), 0);
    }

    #[test]
    fn budget_refuses_only_entries_larger_than_itself() {
        assert!(check_fits_budget("k", 10, Some(10)).is_ok());
        assert!(check_fits_budget("k", 10, None).is_ok());
        assert_eq!(check_fits_budget("k", 11, Some(10)).unwrap_err().code(), ErrorCode::ValueTooLarge);
    }

    #[test]
    fn ledgers_follow_inserts_overwrites_and_removals_per_namespace() {
        let mut ledgers = Ledgers::default();
        let mut delta = LedgerDelta::default();
        delta.inserted("", 100);
        delta.inserted("", 200);
        delta.inserted("ns", 7);
        assert_eq!(delta.bytes(), 307);
        ledgers.apply(&delta);
        assert_eq!(ledgers.total(), SizeLedger { rows: 3, bytes: 307 });
        assert_eq!(ledgers.namespace(""), SizeLedger { rows: 2, bytes: 300 });
        let mut delta = LedgerDelta::default();
        delta.replaced("", 200, 50);
        delta.removed("", 100);
        delta.emptying("ns", ledgers.namespace("ns"));
        ledgers.apply(&delta);
        assert_eq!(ledgers.total(), SizeLedger { rows: 1, bytes: 50 });
        assert_eq!(ledgers.namespace("ns"), SizeLedger::default());
        assert_eq!(ledgers, Ledgers::from_counts([(String::new(), SizeLedger { rows: 1, bytes: 50 })]));
        assert_eq!(ledgers.total().live(SizeLedger { rows: 1, bytes: 50 }), SizeLedger::default());
    }

    #[test]
    fn the_expiry_floor_follows_the_earliest_expiry_written() {
        let mut floor = ExpiryFloor::default();
        assert!(!floor.may_have_expired(i64::MAX), "nothing expires");
        floor.note(None);
        floor.note(Some(100));
        floor.note(Some(200));
        assert!(!floor.may_have_expired(99));
        assert!(floor.may_have_expired(100));
        floor.note(Some(50));
        assert!(floor.may_have_expired(50));
        assert_eq!(ExpiryFloor::new(Some(50)), floor);
    }

    #[test]
    fn recency_stamps_grow_and_rolled_back_reads_are_kept() {
        let mut recency = Recency::starting_after(41, true, READS_PERSISTED_AT);
        recency.touch("", "a");
        assert_eq!(recency.stamp(), 43);
        recency.touch("", "b");
        recency.touch("ns", "c");
        recency.touch("", "a");
        assert_eq!(recency.read_stamp("", "a"), Some(46), "a second read moves the entry");
        assert_eq!(recency.read_between(0, 100).map(|(stamp, _)| stamp), Some(44));
        assert_eq!(recency.read_between(44, 46), Some((45, &("ns".to_owned(), "c".to_owned()))));
        assert_eq!(recency.read_between(46, 100), None, "the bound is exclusive");
        let reads = recency.take_reads();
        assert_eq!(reads.in_order().map(|(stamp, _)| stamp).collect::<Vec<_>>(), [44, 45, 46]);
        recency.touch("", "a");
        recency.restore_reads(reads);
        assert_eq!(recency.read_stamp("", "a"), Some(47), "the newer read wins");
        assert_eq!(recency.read_stamp("", "b"), Some(44));
        let stamps = |recency: &mut Recency| {
            recency.take_reads().in_order().map(|(stamp, _)| stamp).collect::<Vec<_>>()
        };
        assert_eq!(stamps(&mut recency), [44, 45, 47]);
    }

    #[test]
    fn reads_are_tracked_only_with_a_budget_and_due_every_so_many() {
        let mut untracked = Recency::starting_after(0, false, 2);
        untracked.touch("", "a");
        untracked.touch("", "a");
        assert_eq!(
            (untracked.read_stamp("", "a"), untracked.is_due(), untracked.next_stamp()),
            (None, false, 1)
        );
        let mut recency = Recency::starting_after(0, true, 2);
        recency.touch("", "a");
        assert!(!recency.is_due());
        recency.touch("", "a");
        assert!(recency.is_due(), "every read counts");
    }
}
