//! The wasm-bindgen boundary: the only `#[wasm_bindgen]` exports. Every method
//! returns a Promise and reports every failure by rejecting it; arguments are
//! validated and copied at call time, then the operation joins the queue.

mod convert;
mod flat;
mod outputs;
mod read_cache;
mod submit;
mod trace;

use std::rc::Rc;

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;

use crate::clock::Clock;
use crate::codec;
use crate::engine::Engine;
use crate::error::{Result, StorageError};
use crate::js_time::{MathRandom, SystemClock};
use crate::operation::{Operation, Output};
use crate::options::StoreOptions;
use crate::retry::{self, Random};
use crate::stored;
use crate::value::EncodedValue;
use crate::vfs::node_host::NodeHost;
use crate::vfs::{self, opfs};
use outputs::{done, flag, found_entries, found_entry, found_value, number, unexpected};
use submit::{submit, submit_or_run};

pub use convert::error_to_js;

// The TS types the declarations below name (js/types.ts, beside js/wasm/).
#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"import type {
  BreakerState, Entries, GetOrSetOptions, InvalidateOptions, KeysOptions, MsetOptions, SetOptions, StorageOptions,
  StorageValue,
} from "../types.js";
import type { StoredBatch, StoredValue } from "../stored.js";

/** The limits the core enforces that the facade also checks ahead of it. */
export interface Limits {
  /** How deeply arrays and objects may nest in a value. */
  maxDepth: number;
}
"#;

/// The limits the core enforces that the facade also checks ahead of it
/// (js/values.ts); a test holds the two equal.
#[wasm_bindgen(unchecked_return_type = "Limits")]
pub fn limits() -> JsValue {
    let limits = js_sys::Object::new();
    // Defining a property on a fresh object cannot fail.
    let _ = js_sys::Reflect::set(&limits, &"maxDepth".into(), &(codec::MAX_DEPTH as f64).into());
    limits.into()
}

/// Opens a store. Resolves to a `NativeStore`; rejects with a StorageError.
/// `host` is the Node facade's file host (absent in browsers). An open that
/// fails with a retryable error (another store holds the file) is retried
/// under the `retry` option.
#[wasm_bindgen(js_name = openStore, unchecked_return_type = "Promise<NativeStore>")]
pub fn open_store(
    #[wasm_bindgen(unchecked_param_type = "StorageOptions | undefined")] options: JsValue,
    #[wasm_bindgen(unchecked_param_type = "object | undefined")] host: JsValue,
) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        open(&options, &host).await.map(JsValue::from).map_err(|error| error_to_js(&error))
    })
}

async fn open(options: &JsValue, host: &JsValue) -> Result<NativeStore> {
    let (options, clock) = convert::store_options(options)?;
    let host = match host.is_undefined() {
        true => None,
        false => Some(Rc::new(NodeHost::from_js(host)?)),
    };
    let clock: Rc<dyn Clock> = match clock {
        Some(clock) => Rc::new(clock),
        None => Rc::new(SystemClock),
    };
    let mut attempt = 1;
    loop {
        let opened = vfs::open(&options.path, host.clone()).await;
        match opened.and_then(|db| Engine::open(options.clone(), clock.clone(), Box::new(MathRandom), db)) {
            Ok(engine) => {
                #[cfg(feature = "test-hooks")]
                if matches!(&options.path, crate::options::StoragePath::File(path) if path.contains(crate::PANIC_IN_OPEN))
                {
                    panic!("test-hooks: a panic while opening");
                }
                return Ok(NativeStore { engine: Rc::new(engine) });
            }
            Err(error) => match retry::delay_after(&options.retry, attempt, &error, MathRandom.unit()) {
                Some(delay_ms) => wait(clock.as_ref(), delay_ms).await,
                None => return Err(error),
            },
        }
        attempt += 1;
    }
}

/// Waits `delay_ms` on the store's clock.
async fn wait(clock: &dyn Clock, delay_ms: f64) {
    let (wake, woken) = futures_channel::oneshot::channel();
    clock.wake_after(
        delay_ms,
        Box::new(move || {
            // Nobody to tell if the open was dropped meanwhile.
            let _ = wake.send(());
        }),
    );
    let _ = woken.await;
}

/// One open store, as seen from JS. `ns` arguments name the namespace a call
/// acts on: for key calls `undefined` is the root store's own namespace; for
/// `count`, `getCurrentCacheSize`, `clear` and `purgeExpired` it is the whole
/// store. The declared parameter types are what the facade passes; the core
/// checks every argument whatever it is.
#[wasm_bindgen]
pub struct NativeStore {
    engine: Rc<Engine>,
}

#[wasm_bindgen]
impl NativeStore {
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn set(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "StorageValue")] value: JsValue,
        #[wasm_bindgen(unchecked_param_type = "SetOptions | undefined")] options: JsValue,
    ) -> Promise {
        self.set_encoded(ns, key, options, &|max_bytes| codec::encode(&value, max_bytes))
    }

    /// `set` of a value the facade has already made JSON text of (see
    /// `codec::encoded_json`).
    #[wasm_bindgen(js_name = setJson, unchecked_return_type = "Promise<void>")]
    pub fn set_json(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        json: js_sys::JsString,
        #[wasm_bindgen(unchecked_param_type = "SetOptions | undefined")] options: JsValue,
    ) -> Promise {
        self.set_encoded(ns, key, options, &|max_bytes| codec::encoded_json(&json, max_bytes))
    }

    /// `getOrSet`'s write: stores `value` unless the key has a live value by
    /// the time the write runs; resolves with the value stored, whichever it
    /// is, in its stored form (`stored::stored_form`).
    #[wasm_bindgen(js_name = setIfAbsent, unchecked_return_type = "Promise<StoredValue>")]
    pub fn set_if_absent(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "StorageValue")] value: JsValue,
        #[wasm_bindgen(unchecked_param_type = "GetOrSetOptions | undefined")] options: JsValue,
    ) -> Promise {
        self.set_if_absent_encoded(ns, key, options, &|max_bytes| codec::encode(&value, max_bytes))
    }

    /// `setIfAbsent` of a value the facade has already made JSON text of.
    #[wasm_bindgen(js_name = setIfAbsentJson, unchecked_return_type = "Promise<StoredValue>")]
    pub fn set_if_absent_json(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        json: js_sys::JsString,
        #[wasm_bindgen(unchecked_param_type = "GetOrSetOptions | undefined")] options: JsValue,
    ) -> Promise {
        self.set_if_absent_encoded(ns, key, options, &|max_bytes| codec::encoded_json(&json, max_bytes))
    }

    /// Resolves with the value in its stored form (`stored::stored_form`).
    #[wasm_bindgen(unchecked_return_type = "Promise<StoredValue | undefined>")]
    pub fn get(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> Promise {
        self.lookup(|| self.ns_and_key(&ns, &key), found_value)
    }

    /// The read cache's `get` (js/read-cache.ts): resolves with `undefined`
    /// or `[stored, expiresAt]` (`undefined` if it never expires), so that it
    /// answers an entry only while it is live.
    #[wasm_bindgen(
        js_name = getEntry,
        unchecked_return_type = "Promise<[StoredValue, number | undefined] | undefined>"
    )]
    pub fn get_entry(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> Promise {
        self.lookup(|| self.ns_and_key(&ns, &key), found_entry)
    }

    /// `getEntry`, answered at once when the store is idle (`submit_or_run`).
    #[wasm_bindgen(
        js_name = getEntryNow,
        unchecked_return_type = "[StoredValue, number | undefined] | undefined | Promise<[StoredValue, number | undefined] | undefined>"
    )]
    pub fn get_entry_now(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> JsValue {
        submit_or_run(&self.engine, || self.get_operation(&ns, &key), found_entry)
    }

    /// `getOrSet`'s read: `get`, checking first every argument of the
    /// `getOrSet` call in its order (namespace, key, loader, options), so a
    /// bad one is refused before any loader runs, even on a hit. Functions
    /// cannot cross to a worker, so the facade judges the loader and passes
    /// its refusal, if any, for the core to report in turn.
    #[wasm_bindgen(js_name = getForLoad, unchecked_return_type = "Promise<StoredValue | undefined>")]
    pub fn get_for_load(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | undefined")] loader_refusal: Option<String>,
        #[wasm_bindgen(unchecked_param_type = "GetOrSetOptions | undefined")] options: JsValue,
    ) -> Promise {
        self.lookup(
            || {
                let ns_and_key = self.ns_and_key(&ns, &key)?;
                if let Some(refusal) = loader_refusal {
                    return Err(StorageError::InvalidArgument(refusal));
                }
                convert::ttl_options(&options, "getOrSet option")?;
                Ok(ns_and_key)
            },
            found_value,
        )
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn has(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let (ns, key) = self.ns_and_key(&ns, &key)?;
                Ok(Operation::Has { ns, key })
            },
            flag,
        )
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let (ns, key) = self.ns_and_key(&ns, &key)?;
                Ok(Operation::Delete { ns, key })
            },
            flag,
        )
    }

    /// Resolves with the values as one flat batch (`stored::stored_batch`).
    #[wasm_bindgen(unchecked_return_type = "Promise<StoredBatch>")]
    pub fn mget(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "readonly string[]")] keys: JsValue,
    ) -> Promise {
        self.mget_of(&ns, |options| convert::key_list(&keys, options))
    }

    /// `mget` of keys the facade has made flat (see `flat::key_list`).
    #[wasm_bindgen(js_name = mgetFlat, unchecked_return_type = "Promise<StoredBatch>")]
    pub fn mget_flat(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        text: js_sys::JsString,
        lengths: Vec<u32>,
    ) -> Promise {
        self.mget_of(&ns, |options| flat::key_list("mget's flat keys", &text, &lengths, options))
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn mset(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Entries")] entries: JsValue,
        #[wasm_bindgen(unchecked_param_type = "MsetOptions | undefined")] options: JsValue,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let ns = convert::namespace(&ns, self.engine.options())?;
                let ttl = convert::ttl_options(&options, "mset option")?;
                Ok(Operation::MSet { ns, entries: convert::entry_list(&entries, &self.engine)?, ttl })
            },
            done,
        )
    }

    /// `mset` of entries the facade has made flat JSON text of (see
    /// `flat::json_entry_list`).
    #[wasm_bindgen(js_name = msetJson, unchecked_return_type = "Promise<void>")]
    pub fn mset_json(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        text: js_sys::JsString,
        lengths: Vec<u32>,
        #[wasm_bindgen(unchecked_param_type = "MsetOptions | undefined")] options: JsValue,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let ns = convert::namespace(&ns, self.engine.options())?;
                let ttl = convert::ttl_options(&options, "mset option")?;
                Ok(Operation::MSet {
                    ns,
                    entries: flat::json_entry_list(&text, &lengths, &self.engine)?,
                    ttl,
                })
            },
            done,
        )
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn mdelete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "readonly string[]")] keys: JsValue,
    ) -> Promise {
        self.mdelete_of(&ns, |options| convert::key_list(&keys, options))
    }

    /// `mdelete` of keys the facade has made flat (see `flat::key_list`).
    #[wasm_bindgen(js_name = mdeleteFlat, unchecked_return_type = "Promise<number>")]
    pub fn mdelete_flat(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        text: js_sys::JsString,
        lengths: Vec<u32>,
    ) -> Promise {
        self.mdelete_of(&ns, |options| flat::key_list("mdelete's flat keys", &text, &lengths, options))
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn clear(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] scope: JsValue,
    ) -> Promise {
        submit(&self.engine, || Ok(Operation::Clear { scope: self.scope(&scope)? }), done)
    }

    #[wasm_bindgen(js_name = purgeExpired, unchecked_return_type = "Promise<number>")]
    pub fn purge_expired(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] scope: JsValue,
    ) -> Promise {
        submit(&self.engine, || Ok(Operation::PurgeExpired { scope: self.scope(&scope)? }), number)
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn invalidate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "InvalidateOptions")] options: JsValue,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let ns = convert::namespace(&ns, self.engine.options())?;
                Ok(Operation::Invalidate { ns, prefix: convert::invalidate_prefix(&options)? })
            },
            number,
        )
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<string[]>")]
    pub fn keys(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "KeysOptions | undefined")] options: JsValue,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let ns = convert::namespace(&ns, self.engine.options())?;
                Ok(Operation::Keys { ns, query: convert::key_query(&options)? })
            },
            |output| match output {
                Output::Keys(keys) => Ok(keys.into_iter().map(JsValue::from).collect::<Array>().into()),
                other => unexpected(other),
            },
        )
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn count(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] scope: JsValue,
    ) -> Promise {
        submit(&self.engine, || Ok(Operation::Count { scope: self.scope(&scope)? }), number)
    }

    #[wasm_bindgen(js_name = getCurrentCacheSize, unchecked_return_type = "Promise<number>")]
    pub fn current_cache_size(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] scope: JsValue,
    ) -> Promise {
        submit(&self.engine, || Ok(Operation::CacheSize { scope: self.scope(&scope)? }), number)
    }

    /// Rejects every queued operation with DISPOSED and closes the database.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn dispose(&self) -> Promise {
        self.engine.dispose();
        // A temporary OPFS database is removed once its pool has let go;
        // dispose resolves after that, and only resolves.
        let cleanups: js_sys::Array = opfs::take_pending_cleanups().into_iter().collect();
        wasm_bindgen_futures::future_to_promise(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(Promise::all_settled(&cleanups)).await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The longest an operation may run (`operationTimeoutMs`, `Infinity` for
    /// no limit): how long a worker store's owner waits for a dispose.
    #[wasm_bindgen(js_name = operationTimeoutMs)]
    pub fn operation_timeout_ms(&self) -> f64 {
        self.engine.options().operation_timeout_ms.unwrap_or(f64::INFINITY)
    }

    /// The core's counters and the store's state as one array of numbers
    /// (`larder_core::metrics::CoreMetrics::flat`); the facade builds the
    /// `metrics()` snapshot from it.
    #[wasm_bindgen(js_name = coreMetrics)]
    pub fn core_metrics(&self) -> Vec<f64> {
        self.engine.metrics()
    }

    #[wasm_bindgen(js_name = breakerState, unchecked_return_type = "BreakerState")]
    pub fn breaker_state(&self) -> String {
        self.engine.breaker_state().as_str().to_owned()
    }

    /// Sets the function called as `listener(state, previous)` on every
    /// breaker transition, in order. What it throws is ignored: a listener
    /// cannot break the store.
    #[wasm_bindgen(js_name = onStateChange)]
    pub fn on_state_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(state: BreakerState, previous: BreakerState) => void")]
        listener: Function,
    ) {
        self.engine.on_transition(Box::new(move |state, previous| {
            let _ = listener.call2(&JsValue::UNDEFINED, &state.as_str().into(), &previous.as_str().into());
        }));
    }
}

impl NativeStore {
    /// An `mget` of the keys `keys` reads, once the namespace is checked.
    fn mget_of(&self, ns: &JsValue, keys: impl FnOnce(&StoreOptions) -> Result<Vec<String>>) -> Promise {
        self.on_keys(ns, keys, |ns, keys| Operation::MGet { ns, keys }, found_entries)
    }

    /// An `mdelete` of the keys `keys` reads, once the namespace is checked.
    fn mdelete_of(&self, ns: &JsValue, keys: impl FnOnce(&StoreOptions) -> Result<Vec<String>>) -> Promise {
        self.on_keys(ns, keys, |ns, keys| Operation::MDelete { ns, keys }, number)
    }

    /// The operation `make` of the namespace and the keys `keys` reads, the
    /// namespace checked first, as every call checks it.
    fn on_keys(
        &self,
        ns: &JsValue,
        keys: impl FnOnce(&StoreOptions) -> Result<Vec<String>>,
        make: fn(String, Vec<String>) -> Operation,
        finish: fn(Output) -> Result<JsValue>,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let options = self.engine.options();
                Ok(make(convert::namespace(ns, options)?, keys(options)?))
            },
            finish,
        )
    }

    /// A `get` of the namespace and key `check` returns, once it has checked the call.
    fn lookup(
        &self,
        check: impl FnOnce() -> Result<(String, String)>,
        finish: fn(Output) -> Result<JsValue>,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let (ns, key) = check()?;
                Ok(Operation::Get { ns, key })
            },
            finish,
        )
    }

    /// A `setIfAbsent` whose value `encode` encodes, given `maxValueBytes`.
    fn set_if_absent_encoded(
        &self,
        ns: JsValue,
        key: JsValue,
        options: JsValue,
        encode: &dyn Fn(usize) -> Result<EncodedValue>,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let (ns, key) = self.ns_and_key(&ns, &key)?;
                let ttl = convert::ttl_options(&options, "getOrSet option")?;
                let encoded = encode(self.engine.options().max_value_bytes)?;
                Ok(Operation::SetIfAbsent { ns, entry: self.engine.entry(key, encoded, None)?, ttl })
            },
            |output| match output {
                Output::Value(Some(stored)) => stored::stored_form(&stored),
                other => unexpected(other),
            },
        )
    }

    /// `undefined`: the whole store; a name: that namespace.
    fn scope(&self, scope: &JsValue) -> Result<Option<String>> {
        if scope.is_undefined() {
            return Ok(None);
        }
        convert::namespace(scope, self.engine.options()).map(Some)
    }

    /// A `set` whose value `encode` encodes, given `maxValueBytes`.
    fn set_encoded(
        &self,
        ns: JsValue,
        key: JsValue,
        options: JsValue,
        encode: &dyn Fn(usize) -> Result<EncodedValue>,
    ) -> Promise {
        submit(
            &self.engine,
            || {
                let (ns, key) = self.ns_and_key(&ns, &key)?;
                let (ttl, size) = convert::set_options(&options)?;
                let encoded = encode(self.engine.options().max_value_bytes)?;
                Ok(Operation::Set { ns, entry: self.engine.entry(key, encoded, size)?, ttl })
            },
            done,
        )
    }

    fn get_operation(&self, ns: &JsValue, key: &JsValue) -> Result<Operation> {
        let (ns, key) = self.ns_and_key(ns, key)?;
        Ok(Operation::Get { ns, key })
    }

    fn ns_and_key(&self, ns: &JsValue, key: &JsValue) -> Result<(String, String)> {
        let options = self.engine.options();
        let (ns, key) = (convert::namespace(ns, options)?, convert::key(key, options)?);
        #[cfg(feature = "test-hooks")]
        if key == crate::PANIC_IN_CALL {
            panic!("test-hooks: a panic inside a call");
        }
        Ok((ns, key))
    }
}
