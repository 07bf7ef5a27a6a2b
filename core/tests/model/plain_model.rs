//! The plain model the store is checked against: the store's rules for TTL,
//! LRU recency, eviction and all-or-nothing batches, written over a map.

use std::collections::BTreeMap;

use crate::{Mix, Put, BUDGET, START_MS};

#[derive(Clone, Debug)]
pub struct ModelEntry {
    pub value: String,
    pub size: u64,
    pub expires_at: Option<i64>,
    pub stamp: i64,
}

/// What a step must return, as the model has it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Outcome {
    #[default]
    Done,
    Written {
        fits: bool,
    },
    Value(Option<String>),
    Values(Vec<Option<String>>),
    LiveRemoved(u64),
    Live(bool),
}

/// What the store should hold, with the store's own rules written plainly.
#[derive(Clone, Debug)]
pub struct Model {
    pub entries: BTreeMap<(String, String), ModelEntry>,
    pub next_stamp: i64,
    pub now: i64,
    pub mix: Mix,
    /// How many entries the store under test reads before a write persists
    /// their recency: eviction must match the model whatever it is.
    pub reads_persisted_at: usize,
    /// The most entries one write has evicted.
    pub most_evicted: usize,
    /// What the last step must have returned.
    pub outcome: Outcome,
}

impl Model {
    pub fn new(mix: Mix, reads_persisted_at: usize) -> Model {
        Model {
            entries: BTreeMap::new(),
            next_stamp: 0,
            now: START_MS,
            mix,
            reads_persisted_at,
            most_evicted: 0,
            outcome: Outcome::Done,
        }
    }

    pub fn is_live(&self, entry: &ModelEntry) -> bool {
        entry.expires_at.is_none_or(|t| self.now < t)
    }

    pub fn live(&self) -> impl Iterator<Item = (&(String, String), &ModelEntry)> {
        self.entries.iter().filter(|(_, e)| self.is_live(e))
    }

    pub fn totals(&self, scope: Option<&str>) -> (u64, u64) {
        self.live()
            .filter(|((ns, _), _)| scope.is_none_or(|scope| scope == ns))
            .fold((0, 0), |(rows, bytes), (_, e)| (rows + 1, bytes + e.size))
    }

    pub fn live_keys(&self, ns: &str) -> Vec<String> {
        self.live().filter(|((n, _), _)| n == ns).map(|((_, k), _)| k.clone()).collect()
    }

    pub fn stamp(&mut self) -> i64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    /// Writes a batch, then evicts the least recently used live entries not
    /// written by it until the live total fits. False (and no change but the
    /// stamps taken) when it cannot fit.
    pub fn mset(&mut self, ns: &str, batch: &[Put], expires_at: Option<i64>) -> bool {
        let before = self.entries.clone();
        let first_new = self.next_stamp + 1;
        for put in batch {
            let stamp = self.stamp();
            let entry = put.entry();
            let value = String::from_utf8(entry.value.bytes).unwrap();
            self.entries
                .insert((ns.into(), entry.key), ModelEntry { value, size: entry.size, expires_at, stamp });
        }
        let mut live = self.totals(None).1;
        let mut victims: Vec<_> = self
            .live()
            .filter(|(_, e)| e.stamp < first_new)
            .map(|(k, e)| (e.stamp, k.clone(), e.size))
            .collect();
        victims.sort();
        let mut victims = victims.into_iter();
        let mut evicted = 0;
        while live > BUDGET {
            let Some((_, key, size)) = victims.next() else {
                self.entries = before;
                return false;
            };
            self.entries.remove(&key);
            live -= size;
            evicted += 1;
        }
        self.most_evicted = self.most_evicted.max(evicted);
        true
    }

    /// A live entry's value, which becomes the most recently used.
    pub fn read(&mut self, ns: &str, key: &str) -> Option<String> {
        let stamp = self.next_stamp + 1;
        let now = self.now;
        let entry = self.entries.get_mut(&(ns.to_string(), key.to_string()))?;
        if entry.expires_at.is_some_and(|t| now >= t) {
            return None;
        }
        entry.stamp = stamp;
        self.next_stamp = stamp;
        Some(entry.value.clone())
    }

    /// Removes the matching rows; returns how many of them were live.
    pub fn remove_where(&mut self, doomed: impl Fn(&(String, String), &ModelEntry) -> bool) -> u64 {
        let now = self.now;
        let mut live_removed = 0;
        self.entries.retain(|key, entry| {
            let remove = doomed(key, entry);
            if remove && entry.expires_at.is_none_or(|t| now < t) {
                live_removed += 1;
            }
            !remove
        });
        live_removed
    }
}
