//! What the engine tells the facade's read cache (`js/read-cache.ts`) and
//! takes from it, outside the queue: these touch only memory and are asked
//! only while no operation runs.

use std::cell::RefMut;

use super::Engine;
use crate::accounting::EntryKey;
use crate::store::Store;

impl Engine {
    /// Reads the facade answered itself while the store was idle, for the
    /// LRU order (`Store::note_reads`); nothing once the store is closed.
    pub fn note_reads<'k>(&self, reads: impl IntoIterator<Item = (&'k str, &'k str)>) {
        if let Some(mut store) = self.idle_store() {
            store.note_reads(reads);
        }
    }

    /// What the writes committed since the last call evicted
    /// (`Store::take_evicted`); nothing once the store is closed.
    pub fn take_evicted(&self) -> Option<Vec<EntryKey>> {
        self.idle_store().map_or(Some(Vec::new()), |mut store| store.take_evicted())
    }

    /// The store, if it is open and no operation is running on it.
    fn idle_store(&self) -> Option<RefMut<'_, Store>> {
        RefMut::filter_map(self.store.try_borrow_mut().ok()?, Option::as_mut).ok()
    }

    /// The latest time the store's clock has shown (`i64::MIN` before the
    /// first reading): what the facade's read cache takes for now at least,
    /// so that an entry the core has seen expire stays expired there too.
    pub fn latest_ms(&self) -> i64 {
        self.latest_ms.get()
    }
}
