//! `getOrSet`: read through the queue; on a miss run the loader outside the
//! queue (other operations go on meanwhile), store its result through the
//! queue, and answer every caller who joined the flight.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{answer, enqueue, error_to_js, pending_promise, Settle};
use crate::codec;
use crate::engine::Engine;
use crate::error::{Result, StorageError};
use crate::flight::SingleFlight;
use crate::operation::{Operation, Output};
use crate::options::Ttl;
use crate::value::EncodedValue;

type Flights = Rc<RefCell<SingleFlight<(String, String), Settle>>>;

pub struct Request {
    pub ns: String,
    pub key: String,
    pub loader: Function,
    pub ttl: Option<Ttl>,
}

/// Joins the flight for the request's key, starting it if none is under way.
pub fn join(engine: &Rc<Engine>, flights: &Flights, request: Request) -> Promise {
    let (promise, settle) = pending_promise();
    let flight_key = (request.ns.clone(), request.key.clone());
    if flights.borrow_mut().join(flight_key.clone(), settle) {
        let (engine, flights) = (engine.clone(), flights.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = fly(&engine, request).await;
            // Empty if dispose() already answered them.
            let waiters = flights.borrow_mut().finish(&flight_key);
            for (resolve, reject) in waiters {
                match &outcome {
                    // Each caller gets its own fresh copy.
                    Ok(value) => answer(&resolve, &reject, codec::decode(value.kind, &value.bytes)),
                    Err(error) => drop(reject.call1(&JsValue::UNDEFINED, error)),
                }
            }
        });
    }
    promise
}

/// The stored value, or the loader's, stored (unless a value was set
/// meanwhile, which is then the answer). Fails with the loader's own error if
/// it throws, or with a StorageError.
async fn fly(engine: &Rc<Engine>, request: Request) -> Result<EncodedValue, JsValue> {
    let Request { ns, key, loader, ttl } = request;
    let lookup = Operation::Get { ns: ns.clone(), key: key.clone() };
    if let Output::Value(Some(value)) = run(engine, lookup).await.map_err(|error| error_to_js(&error))? {
        return Ok(value);
    }
    let loaded = loader.call1(&JsValue::UNDEFINED, &JsValue::from_str(&key))?;
    let value = JsFuture::from(Promise::resolve(&loaded)).await?;
    let stored = (async {
        let encoded =
            codec::encode(&value, engine.options().max_value_bytes).map_err(|error| match error {
                StorageError::InvalidValue(reason) => StorageError::InvalidValue(format!(
                    "the getOrSet loader for key {key:?} returned a value that cannot be stored: {reason}"
                )),
                other => other,
            })?;
        let entry = engine.entry(key, encoded, None)?;
        // A value set meanwhile by another caller wins over the loader's.
        match run(engine, Operation::SetIfAbsent { ns, entry, ttl }).await? {
            Output::Value(Some(stored)) => Ok(stored),
            other => Err(StorageError::Internal(format!("getOrSet's write produced {other:?}"))),
        }
    })
    .await;
    stored.map_err(|error| error_to_js(&error))
}

/// Runs one operation through the queue and waits for its output.
async fn run(engine: &Rc<Engine>, operation: Operation) -> Result<Output> {
    let (sender, receiver) = oneshot::channel();
    enqueue(engine, operation, Box::new(move |result| drop(sender.send(result))));
    // Every queued operation is answered, so the sender is never dropped unsent.
    receiver.await.unwrap_or(Err(StorageError::Disposed))
}
