//! How a call's operation reaches the engine and its caller is answered: a
//! Promise settled by the operation's reply, or, for a store that is idle,
//! the answer itself.

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;

use super::error_to_js;
use crate::engine::{Engine, RanNow, Reply};
use crate::error::{Result, StorageError};
use crate::operation::{Operation, Output};

/// Validates a call into an operation and queues it; the promise settles
/// with `finish(output)` or the error.
pub(super) fn submit(
    engine: &Rc<Engine>,
    prepare: impl FnOnce() -> Result<Operation>,
    finish: fn(Output) -> Result<JsValue>,
) -> Promise {
    match admit(engine, prepare) {
        Ok(operation) => queue(engine, operation, finish),
        Err(rejection) => rejection,
    }
}

/// `submit`, except that an idle store runs the operation at once
/// (`Engine::run_now`): the answer is then `finish(output)` itself, not a
/// Promise, unless the operation failed (a rejected Promise) or waits for a
/// retry (a Promise its retry settles).
pub(super) fn submit_or_run(
    engine: &Rc<Engine>,
    prepare: impl FnOnce() -> Result<Operation>,
    finish: fn(Output) -> Result<JsValue>,
) -> JsValue {
    let operation = match admit(engine, prepare) {
        Ok(operation) => operation,
        Err(rejection) => return rejection.into(),
    };
    match engine.run_now(operation) {
        RanNow::Busy(operation) => queue(engine, operation, finish).into(),
        RanNow::Answered(result) => match result.and_then(finish) {
            Ok(answer) => answer,
            Err(error) => rejected(&error).into(),
        },
        RanNow::Retrying(late) => {
            let (promise, settle) = pending_promise();
            late.answer_to(settling(settle, finish));
            promise.into()
        }
    }
}

/// Queues `operation`, scheduling a drain if none is. The drain is a
/// microtask, so every call made in this turn joins the same drain.
fn queue(engine: &Rc<Engine>, operation: Operation, finish: fn(Output) -> Result<JsValue>) -> Promise {
    let (promise, settle) = pending_promise();
    if engine.submit(operation, settling(settle, finish)) {
        let engine = engine.clone();
        wasm_bindgen_futures::spawn_local(async move { engine.drain() });
    }
    promise
}

/// The resolving functions of one caller's Promise.
type Settle = (Function, Function);

/// The call's operation, or the rejected Promise that answers it: a disposed
/// store refuses before the call's arguments are read.
fn admit(
    engine: &Rc<Engine>,
    prepare: impl FnOnce() -> Result<Operation>,
) -> std::result::Result<Operation, Promise> {
    if engine.is_disposed() {
        return Err(rejected(&StorageError::Disposed));
    }
    prepare().map_err(|error| rejected(&error))
}

/// A new Promise with its resolving functions.
fn pending_promise() -> (Promise, Settle) {
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    (promise, settle.expect("the Promise executor runs synchronously"))
}

/// The reply that settles a caller's Promise with `finish(output)` or the error.
fn settling((resolve, reject): Settle, finish: fn(Output) -> Result<JsValue>) -> Reply {
    // Calling a Promise's own resolving functions cannot throw.
    Box::new(move |result| {
        let _ = match result.and_then(finish) {
            Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
            Err(error) => reject.call1(&JsValue::UNDEFINED, &error_to_js(&error)),
        };
    })
}

fn rejected(error: &StorageError) -> Promise {
    Promise::reject(&error_to_js(error))
}
