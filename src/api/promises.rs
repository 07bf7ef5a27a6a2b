//! How a call's Promise is made and settled, and how an operation joins the
//! queue.

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;

use super::error_to_js;
use crate::engine::{Engine, Reply};
use crate::error::Result;
use crate::operation::Operation;

/// The resolving functions of one caller's Promise.
type Settle = (Function, Function);

/// Queues an operation, scheduling a drain if none is. The drain is a
/// microtask, so every call made in this turn joins the same drain.
pub(super) fn enqueue(engine: &Rc<Engine>, operation: Operation, reply: Reply) {
    if engine.submit(operation, reply) {
        let engine = engine.clone();
        wasm_bindgen_futures::spawn_local(async move { engine.drain() });
    }
}

/// A new Promise with its resolving functions.
pub(super) fn pending_promise() -> (Promise, Settle) {
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    (promise, settle.expect("the Promise executor runs synchronously"))
}

pub(super) fn answer(resolve: &Function, reject: &Function, result: Result<JsValue>) {
    // Calling a Promise's own resolving functions cannot throw.
    let _ = match result {
        Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
        Err(error) => reject.call1(&JsValue::UNDEFINED, &error_to_js(&error)),
    };
}

pub(super) fn settle_now(result: Result<JsValue>) -> Promise {
    match result {
        Ok(value) => Promise::resolve(&value),
        Err(error) => Promise::reject(&error_to_js(&error)),
    }
}
