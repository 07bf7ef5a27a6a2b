//! Time and chance from JS: `Date.now` as the store's clock, `setTimeout` as
//! its timer, `Math.random` as retry jitter.

use js_sys::Function;
use larder_core::clock::{Clock, Task};
use larder_core::error::Result;
use larder_core::retry::Random;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, delay_ms: f64);
}

/// Runs `task` once from the event loop, after `delay_ms`.
pub fn run_after(delay_ms: f64, task: Task) {
    set_timeout(&Closure::once_into_js(task).unchecked_into(), delay_ms);
}

/// `Date.now()`, and `setTimeout`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Result<i64> {
        Ok(js_sys::Date::now() as i64)
    }

    fn wake_after(&self, delay_ms: f64, task: Task) {
        run_after(delay_ms, task);
    }
}

/// `Math.random()`.
pub struct MathRandom;

impl Random for MathRandom {
    fn unit(&self) -> f64 {
        js_sys::Math::random()
    }
}
