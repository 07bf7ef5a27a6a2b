//! Trace facts across the boundary: the facade tags the operations of a
//! call it traces, then takes their facts once the call has settled
//! (`larder_core::trace`). Untraced calls cross nothing more.

use wasm_bindgen::prelude::*;

use super::NativeStore;

#[wasm_bindgen]
impl NativeStore {
    /// Tags the operations submitted from now on with `tag` (a call's
    /// txId); 0 stops tagging.
    #[wasm_bindgen(js_name = traceNext)]
    pub fn trace_next(&self, tag: f64) {
        self.engine.trace_next((tag > 0.0).then_some(tag as u64));
    }

    /// The facts of the settled operation tagged `tag`, once: queued ms,
    /// group size (0: none), retries; undefined if none were recorded.
    #[wasm_bindgen(js_name = traceFacts)]
    pub fn trace_facts(&self, tag: f64) -> Option<Vec<f64>> {
        self.engine.take_trace_facts(tag as u64).map(|facts| facts.flat().to_vec())
    }
}
