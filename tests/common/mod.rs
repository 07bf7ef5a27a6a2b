//! What the boundary suites share: calling `openStore` and `NativeStore` the
//! way JS does, and checking what they settle with.

// Each suite uses some of these.
#![allow(dead_code)]

use js_sys::{Array, Function, Promise, Reflect, JSON};
pub use larder::testing::{open_store, NativeStore};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The namespace argument that names the root store's own namespace.
pub const ROOT: JsValue = JsValue::UNDEFINED;
/// An omitted options argument.
pub const NO_OPTIONS: JsValue = JsValue::UNDEFINED;

/// Evaluates a JS expression.
pub fn js(expression: &str) -> JsValue {
    js_sys::eval(&format!("({expression})"))
        .unwrap_or_else(|error| panic!("evaluating {expression}: {error:?}"))
}

pub fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &name.into()).expect("reading a property of an object")
}

pub fn set_field(object: &JsValue, name: &str, value: JsValue) {
    Reflect::set(object, &name.into(), &value).expect("setting a property of an object");
}

/// A JS value as text that tells `undefined`, `null` and bytes apart.
pub fn show(value: &JsValue) -> String {
    let replacer: Function = js("(_, x) => x === undefined ? '<undefined>' \
         : x instanceof Uint8Array ? `<bytes ${x}>` : x")
    .unchecked_into();
    JSON::stringify_with_replacer(value, &replacer)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Asserts that `actual` equals the value of the JS expression `expected`.
pub fn assert_same(actual: &JsValue, expected: &str) {
    assert_eq!(show(actual), show(&js(expected)), "expected {expected}");
}

pub fn code(error: &JsValue) -> String {
    let code = error.is_object().then(|| field(error, "code").as_string());
    code.flatten().unwrap_or_else(|| format!("no code on {error:?}"))
}

/// Awaits a promise. One still pending after 10 s fails the test: left alone,
/// it would let Node's event loop empty and the run end early, reported as a success.
pub async fn call(promise: Promise) -> Result<JsValue, JsValue> {
    let watch: Function = js("(promise) => { let timer; \
        const late = new Promise((_, reject) => { timer = setTimeout( \
            () => reject(new Error('still pending after 10 s')), 10000); }); \
        return Promise.race([promise, late]).finally(() => clearTimeout(timer)); }")
    .unchecked_into();
    let watched = watch.call1(&JsValue::UNDEFINED, &promise);
    let watched: Promise = watched.expect("watching a promise").unchecked_into();
    JsFuture::from(watched).await
}

pub async fn resolved(promise: Promise) -> JsValue {
    call(promise).await.unwrap_or_else(|error| panic!("rejected with {}: {error:?}", code(&error)))
}

/// What a read resolves with, read as the facade reads it (js/stored.ts): a
/// value's JSON text parsed, an `mget` batch made its array of values;
/// anything else as it is.
pub fn from_stored(value: &JsValue) -> JsValue {
    let read: Function = js(
        "(value) => { \
        if (typeof value === 'string') return JSON.parse(value); \
        if (!Array.isArray(value) || !(value[1] instanceof Uint32Array)) return value; \
        const [text, ends, kinds, bytes] = value; let start = 0, next = 0; \
        return Array.from(kinds, (kind, index) => { \
            if (kind === 0) return undefined; if (kind === 2) return bytes[next++]; \
            const json = text.slice(start, ends[index]); start = ends[index]; return JSON.parse(json); }); }",
    )
    .unchecked_into();
    read.call1(&JsValue::UNDEFINED, value).expect("reading a stored form")
}

/// `resolved`, then `from_stored`: the value a get or mget read.
pub async fn value_of(promise: Promise) -> JsValue {
    from_stored(&resolved(promise).await)
}

/// Awaits a promise that must reject with a StorageError of code `expected`.
pub async fn rejected(promise: Promise, expected: &str) -> JsValue {
    match call(promise).await {
        Ok(value) => panic!("expected {expected}, resolved with {}", show(&value)),
        Err(error) => {
            assert_storage_error(&error, expected);
            error
        }
    }
}

/// The classification of the codes these suites provoke (README, "Errors").
pub const CLASSIFICATION: [(&str, &str, bool, &str); 9] = [
    ("INVALID_ARGUMENT", "VALIDATION", false, "FIX_INPUT"),
    ("INVALID_KEY", "VALIDATION", false, "FIX_INPUT"),
    ("INVALID_VALUE", "VALIDATION", false, "FIX_INPUT"),
    ("VALUE_TOO_LARGE", "CAPACITY", false, "FIX_INPUT"),
    ("BATCH_TOO_LARGE", "CAPACITY", false, "FIX_INPUT"),
    ("QUEUE_FULL", "CAPACITY", true, "WAIT"),
    ("DISPOSED", "LIFECYCLE", false, "REOPEN"),
    ("TIMEOUT", "TIMEOUT", true, "RETRY"),
    ("UNSUPPORTED", "LIFECYCLE", false, "NONE"),
];

/// Asserts that `error` is a JS `Error` named StorageError with code `expected`
/// and every field the README's error table gives one. None of this suite's errors comes from
/// SQLite, so `sqliteCode` is always undefined.
pub fn assert_storage_error(error: &JsValue, expected: &str) {
    assert_eq!(code(error), expected, "{error:?}");
    let &(_, category, retryable, action) = CLASSIFICATION
        .iter()
        .find(|row| row.0 == expected)
        .unwrap_or_else(|| panic!("{expected} is missing from CLASSIFICATION"));
    assert!(error.is_instance_of::<js_sys::Error>(), "{expected}: not an Error");
    let text = |name: &str| field(error, name).as_string().unwrap_or_default();
    assert_eq!(
        (text("name"), text("category"), field(error, "retryable").as_bool(), text("recoveryAction")),
        ("StorageError".into(), category.into(), Some(retryable), action.into()),
        "{expected}: name, category, retryable, recoveryAction",
    );
    for name in ["userMessage", "message"] {
        assert!(!text(name).is_empty(), "{expected}: {name}");
    }
    assert!(field(error, "sqliteCode").is_undefined(), "{expected}: sqliteCode");
}

pub async fn open(options: JsValue) -> NativeStore {
    let store = resolved(open_store(options, JsValue::UNDEFINED)).await;
    NativeStore::try_from_js_value(store).expect("openStore resolves to a NativeStore")
}

/// Options with a `clock` (merged over `extra`) that returns `clock.now` after
/// adding `clock.step` to it; both start at 0 and tests set them.
pub fn with_clock(extra: &str) -> (JsValue, JsValue) {
    let options = js(&format!(
        "{{ ...{extra}, clock: Object.assign(\
         function clock() {{ return clock.now += clock.step; }}, {{ now: 0, step: 0 }}) }}"
    ));
    let clock = field(&options, "clock");
    (options, clock)
}

/// How a group of promises made together settled: `order` lists their indices
/// in the order they settled, `outcomes` their results in the order made.
pub struct Settled {
    pub order: Vec<u32>,
    pub outcomes: Vec<Result<JsValue, JsValue>>,
}

/// Attaches handlers to every promise at once (so no rejection goes unhandled)
/// and waits for all.
pub async fn settle_all(promises: &[Promise]) -> Settled {
    let watch: Function = js("(promises) => { const order = []; \
        return Promise.all(promises.map((promise, index) => promise.then( \
            (value) => (order.push(index), { ok: true, value }), \
            (value) => (order.push(index), { ok: false, value })))) \
        .then((outcomes) => ({ order, outcomes })); }")
    .unchecked_into();
    let promises: Array = promises.iter().collect();
    let settled = watch.call1(&JsValue::UNDEFINED, &promises).expect("watching promises");
    let settled = resolved(settled.unchecked_into()).await;
    let order = Array::from(&field(&settled, "order"));
    let outcomes = Array::from(&field(&settled, "outcomes"));
    Settled {
        order: order.iter().map(|i| i.as_f64().unwrap() as u32).collect(),
        outcomes: outcomes
            .iter()
            .map(|outcome| {
                let value = field(&outcome, "value");
                if field(&outcome, "ok").is_truthy() {
                    Ok(value)
                } else {
                    Err(value)
                }
            })
            .collect(),
    }
}

/// Awaits a promise that must resolve to a number (`count()`, `getCurrentCacheSize()`).
pub async fn number(promise: Promise) -> f64 {
    let value = resolved(promise).await;
    value.as_f64().unwrap_or_else(|| panic!("not a number: {value:?}"))
}
