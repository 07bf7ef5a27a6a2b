//! What the facade's read cache (`js/read-cache.ts`) exchanges with the
//! store besides its calls: the hits it answered, the entries the store
//! evicted, and the store's latest time. Asked only while no call is in
//! flight; none of them is an operation.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::{flat, NativeStore};

#[wasm_bindgen]
impl NativeStore {
    /// Reads the facade's read cache answered while the store was idle, in
    /// the order it answered them, for the LRU order of a store with a
    /// budget: each namespace ('' for the root's own) then its key, flat
    /// (`flat::pieces`). Lengths that do not add up note nothing.
    #[wasm_bindgen(js_name = noteReads)]
    pub fn note_reads(&self, text: js_sys::JsString, lengths: Vec<u32>) {
        let text = String::from(&text);
        if let Some(pieces) = flat::pieces(&text, &lengths) {
            self.engine.note_reads(pieces.chunks_exact(2).map(|read| (read[0], read[1])));
        }
    }

    /// The entries the writes committed since the last call evicted, for the
    /// read cache to drop: each namespace ('' for the root's own) then its
    /// key; `undefined` if none, `null` if more than the list names. Unless
    /// `named`, the list is emptied and nothing made of it (the cache holds
    /// nothing they could name).
    #[wasm_bindgen(js_name = takeEvicted, unchecked_return_type = "string[] | null | undefined")]
    pub fn take_evicted(&self, named: bool) -> JsValue {
        match self.engine.take_evicted() {
            None if named => JsValue::NULL,
            Some(evicted) if named && !evicted.is_empty() => (evicted.into_iter())
                .flat_map(|(ns, key)| [JsValue::from(ns), JsValue::from(key)])
                .collect::<Array>()
                .into(),
            _ => JsValue::UNDEFINED,
        }
    }

    /// The latest time the store's clock has shown, `-Infinity` before the
    /// first reading (js/read-cache.ts takes now to be no earlier).
    #[wasm_bindgen(js_name = latestTimeMs)]
    pub fn latest_time_ms(&self) -> f64 {
        match self.engine.latest_ms() {
            i64::MIN => f64::NEG_INFINITY,
            ms => ms as f64,
        }
    }
}
