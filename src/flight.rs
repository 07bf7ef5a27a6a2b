//! Single flight: concurrent callers asking for the same key share one piece
//! of work (a `getOrSet` loader call) and all get its outcome.

use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
pub struct SingleFlight<K, W> {
    flights: HashMap<K, Vec<W>>,
}

impl<K: Eq + Hash, W> Default for SingleFlight<K, W> {
    fn default() -> Self {
        SingleFlight { flights: HashMap::new() }
    }
}

impl<K: Eq + Hash, W> SingleFlight<K, W> {
    /// Adds a waiter for `key`. True when no flight was under way: the
    /// caller leads, and must start the work and `finish` it.
    pub fn join(&mut self, key: K, waiter: W) -> bool {
        let waiters = self.flights.entry(key).or_default();
        waiters.push(waiter);
        waiters.len() == 1
    }

    /// Ends the flight for `key`, handing back its waiters to answer (none if
    /// it was abandoned meanwhile).
    pub fn finish(&mut self, key: &K) -> Vec<W> {
        self.flights.remove(key).unwrap_or_default()
    }

    /// Ends every flight (the store is going away), handing back all waiters.
    pub fn abandon_all(&mut self) -> Vec<W> {
        self.flights.drain().flat_map(|(_, waiters)| waiters).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn the_first_caller_leads_and_everyone_shares_the_outcome() {
        let mut flights = SingleFlight::default();
        assert!(flights.join("k", 1));
        assert!(!flights.join("k", 2));
        assert!(flights.join("other", 3));
        assert_eq!(flights.finish(&"k"), vec![1, 2]);
        assert!(flights.join("k", 4), "a finished flight lets the next caller lead");
    }

    #[wasm_bindgen_test]
    fn abandoning_hands_back_every_waiter_and_later_finishes_find_none() {
        let mut flights = SingleFlight::default();
        flights.join("a", 1);
        flights.join("a", 2);
        flights.join("b", 3);
        let mut abandoned = flights.abandon_all();
        abandoned.sort();
        assert_eq!(abandoned, vec![1, 2, 3]);
        assert!(flights.finish(&"a").is_empty());
    }
}
