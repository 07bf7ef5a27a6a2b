//! The environment suite: larder through its wasm-bindgen boundary (`openStore`
//! and `NativeStore`), called the way JS calls it. Every call returns a Promise
//! and every failure rejects it with a StorageError-shaped JS `Error`.
//!
//! Runs unchanged under `wasm-pack test --node` and, with
//! `WASM_BINDGEN_USE_BROWSER=1`, under `wasm-pack test --headless --chrome`.

use js_sys::{Array, Function, Promise, Reflect, Uint8Array, JSON};
use larder::testing::{open_store, NativeStore};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

/// The namespace argument that names the root store's own namespace.
const ROOT: JsValue = JsValue::UNDEFINED;
/// An omitted options argument.
const NO_OPTIONS: JsValue = JsValue::UNDEFINED;

/// Evaluates a JS expression.
fn js(expression: &str) -> JsValue {
    js_sys::eval(&format!("({expression})"))
        .unwrap_or_else(|error| panic!("evaluating {expression}: {error:?}"))
}

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &name.into()).expect("reading a property of an object")
}

fn set_field(object: &JsValue, name: &str, value: JsValue) {
    Reflect::set(object, &name.into(), &value).expect("setting a property of an object");
}

/// A JS value as text that tells `undefined`, `null` and bytes apart.
fn show(value: &JsValue) -> String {
    let replacer: Function = js("(_, x) => x === undefined ? '<undefined>' \
         : x instanceof Uint8Array ? `<bytes ${x}>` : x")
    .unchecked_into();
    JSON::stringify_with_replacer(value, &replacer)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Asserts that `actual` equals the value of the JS expression `expected`.
fn assert_same(actual: &JsValue, expected: &str) {
    assert_eq!(show(actual), show(&js(expected)), "expected {expected}");
}

fn code(error: &JsValue) -> String {
    let code = error.is_object().then(|| field(error, "code").as_string());
    code.flatten().unwrap_or_else(|| format!("no code on {error:?}"))
}

/// Awaits a promise. One still pending after 10 s fails the test: left alone,
/// it would let Node's event loop empty and the run end early, reported as a success.
async fn call(promise: Promise) -> Result<JsValue, JsValue> {
    let watch: Function = js("(promise) => { let timer; \
        const late = new Promise((_, reject) => { timer = setTimeout( \
            () => reject(new Error('still pending after 10 s')), 10000); }); \
        return Promise.race([promise, late]).finally(() => clearTimeout(timer)); }")
    .unchecked_into();
    let watched = watch.call1(&JsValue::UNDEFINED, &promise);
    let watched: Promise = watched.expect("watching a promise").unchecked_into();
    JsFuture::from(watched).await
}

async fn resolved(promise: Promise) -> JsValue {
    call(promise).await.unwrap_or_else(|error| panic!("rejected with {}: {error:?}", code(&error)))
}

/// Awaits a promise that must reject with a StorageError of code `expected`.
async fn rejected(promise: Promise, expected: &str) -> JsValue {
    match call(promise).await {
        Ok(value) => panic!("expected {expected}, resolved with {}", show(&value)),
        Err(error) => {
            assert_storage_error(&error, expected);
            error
        }
    }
}

/// API.md's classification of the codes this suite provokes.
const CLASSIFICATION: [(&str, &str, bool, &str); 9] = [
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
/// and every field API.md gives one. None of this suite's errors comes from
/// SQLite, so `sqliteCode` is always undefined.
fn assert_storage_error(error: &JsValue, expected: &str) {
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

async fn open(options: JsValue) -> NativeStore {
    let store = resolved(open_store(options, JsValue::UNDEFINED)).await;
    NativeStore::try_from_js_value(store).expect("openStore resolves to a NativeStore")
}

/// Options with a `clock` (merged over `extra`) that returns `clock.now` after
/// adding `clock.step` to it; both start at 0 and tests set them.
fn with_clock(extra: &str) -> (JsValue, JsValue) {
    let options = js(&format!(
        "{{ ...{extra}, clock: Object.assign(\
         function clock() {{ return clock.now += clock.step; }}, {{ now: 0, step: 0 }}) }}"
    ));
    let clock = field(&options, "clock");
    (options, clock)
}

/// How a group of promises made together settled: `order` lists their indices
/// in the order they settled, `outcomes` their results in the order made.
struct Settled {
    order: Vec<u32>,
    outcomes: Vec<Result<JsValue, JsValue>>,
}

/// Attaches handlers to every promise at once (so no rejection goes unhandled)
/// and waits for all.
async fn settle_all(promises: &[Promise]) -> Settled {
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
async fn number(promise: Promise) -> f64 {
    let value = resolved(promise).await;
    value.as_f64().unwrap_or_else(|| panic!("not a number: {value:?}"))
}

// ---- opening ----

#[wasm_bindgen_test]
async fn opens_with_default_options_and_documented_defaults() {
    for options in ["undefined", "null", "{}"] {
        let store = open(js(options)).await;
        assert!(!store.is_disposed());
        resolved(store.set(ROOT, "k".into(), "v".into(), NO_OPTIONS)).await;
        assert_same(&resolved(store.get(ROOT, "k".into())).await, "'v'");
    }
    let store = open(JsValue::UNDEFINED).await;
    let set = |key: &str, value: JsValue, options: &str| store.set(ROOT, js(key), value, js(options));
    // maxKeyBytes 1024
    resolved(set("'k'.repeat(1024)", 1.into(), "undefined")).await;
    rejected(set("'k'.repeat(1025)", 1.into(), "undefined"), "INVALID_KEY").await;
    // maxValueBytes 16 MiB
    let bytes = |length: u32| JsValue::from(Uint8Array::new_with_length(length));
    resolved(set("'big'", bytes(16 << 20), "undefined")).await;
    rejected(set("'big'", bytes((16 << 20) + 1), "undefined"), "VALUE_TOO_LARGE").await;
    // maxSizeBytes unlimited
    resolved(set("'huge'", 1.into(), "{ size: Number.MAX_SAFE_INTEGER }")).await;
    // maxBatchSize 10000
    let keys = |n: u32| js(&format!("Array.from({{ length: {n} }}, (_, i) => 'k' + i)"));
    resolved(store.mget(ROOT, keys(10_000))).await;
    rejected(store.mget(ROOT, keys(10_001)), "BATCH_TOO_LARGE").await;
    // maxQueueLength 10000: the 10001st waiting operation is refused.
    let counts: Vec<Promise> = (0..=10_000).map(|_| store.count(ROOT)).collect();
    let settled = settle_all(&counts).await;
    let refused: Vec<usize> = (settled.outcomes.iter().enumerate())
        .filter_map(|(index, outcome)| outcome.as_ref().err().map(|error| (index, error)))
        .map(|(index, error)| {
            assert_storage_error(error, "QUEUE_FULL");
            index
        })
        .collect();
    assert_eq!(refused, [10_000]);
}

/// A stand-in for `node:fs` whose every function fails the test if called.
const FS: &str = "Object.fromEntries(['openSync', 'closeSync', 'readSync', 'writeSync', \
    'fsyncSync', 'ftruncateSync', 'fstatSync', 'statSync', 'unlinkSync', 'readFileSync', \
    'mkdirSync'].map((name) => [name, () => { throw new Error(`fs.${name} called`); }]))";

#[wasm_bindgen_test]
async fn opens_with_each_option_at_a_valid_value() {
    let fs = format!("{{ fs: {FS} }}");
    let all = format!(
        "{{ path: ':memory:', maxSizeBytes: 1000, defaultTtlMs: 60000, maxBatchSize: 5, \
         maxKeyBytes: 8, maxValueBytes: 64, maxQueueLength: 5, operationTimeoutMs: 60000, \
         durability: 'normal', breaker: {{ failureThreshold: 2, recoveryTimeoutMs: 10 }}, \
         retry: {{ maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 }}, clock: Date.now, fs: {FS} }}"
    );
    let valid = [
        "{ path: ':memory:' }",
        "{ maxSizeBytes: 1 }",
        "{ maxSizeBytes: Number.MAX_SAFE_INTEGER }",
        "{ defaultTtlMs: 60000 }",
        "{ defaultTtlMs: 2 ** 53 }",
        "{ defaultTtlMs: Infinity }",
        "{ maxBatchSize: 1 }",
        "{ maxKeyBytes: 1 }",
        "{ maxValueBytes: 1 }",
        "{ maxQueueLength: 1 }",
        "{ operationTimeoutMs: 60000 }",
        "{ operationTimeoutMs: Infinity }",
        "{ durability: 'full' }",
        "{ durability: 'normal' }",
        "{ breaker: {} }",
        "{ breaker: { failureThreshold: 1, recoveryTimeoutMs: 0 } }",
        "{ retry: {} }",
        "{ retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 } }",
        "{ clock: () => 0 }",
        "{ clock: Date.now }",
        "{ maxSizeBytes: undefined, defaultTtlMs: undefined, clock: undefined }",
        &fs,
        &all,
    ];
    for options in valid {
        console_log!("options: {options}");
        let store = open(js(options)).await;
        resolved(store.set(ROOT, "k".into(), 1.into(), js("{ size: 1 }"))).await;
        assert_same(&resolved(store.get(ROOT, "k".into())).await, "1");
    }
}

#[wasm_bindgen_test]
async fn invalid_and_unknown_options_reject_with_invalid_argument() {
    let invalid = [
        "5",
        "'{}'",
        "true",
        "[]",
        "() => ({})",
        "{ bogus: 1 }",
        "{ MaxSizeBytes: 1 }",
        "{ bogus: undefined }",
        "{ path: '' }",
        "{ path: 5 }",
        "{ path: 'a\\0b' }",
        "{ path: '\\uD800' }",
        "{ maxSizeBytes: 0 }",
        "{ maxSizeBytes: -1 }",
        "{ maxSizeBytes: 1.5 }",
        "{ maxSizeBytes: '10' }",
        "{ maxSizeBytes: null }",
        "{ maxSizeBytes: NaN }",
        "{ maxSizeBytes: Infinity }",
        "{ maxSizeBytes: 2 ** 53 }",
        "{ defaultTtlMs: 0 }",
        "{ defaultTtlMs: -5 }",
        "{ defaultTtlMs: NaN }",
        "{ defaultTtlMs: -Infinity }",
        "{ defaultTtlMs: '100' }",
        "{ defaultTtlMs: 2 ** 53 + 2 }",
        "{ maxBatchSize: 0 }",
        "{ maxBatchSize: 2.5 }",
        "{ maxKeyBytes: 0 }",
        "{ maxValueBytes: -1 }",
        "{ maxQueueLength: 0 }",
        "{ maxQueueLength: Infinity }",
        "{ operationTimeoutMs: 0 }",
        "{ operationTimeoutMs: -1 }",
        "{ operationTimeoutMs: NaN }",
        "{ operationTimeoutMs: '5' }",
        "{ durability: 'FULL' }",
        "{ durability: 'off' }",
        "{ durability: 1 }",
        "{ breaker: 5 }",
        "{ breaker: { failureThreshold: 0 } }",
        "{ breaker: { recoveryTimeoutMs: -1 } }",
        "{ breaker: { threshold: 5 } }",
        "{ retry: [] }",
        "{ retry: { maxAttempts: 0 } }",
        "{ retry: { baseDelayMs: -1 } }",
        "{ retry: { baseDelayMs: 50, maxDelayMs: 10 } }",
        "{ retry: { attempts: 3 } }",
        "{ clock: 5 }",
        "{ clock: 'Date.now' }",
        "{ clock: {} }",
        "{ fs: 5 }",
        "{ fs: 'node:fs' }",
        "{ get maxSizeBytes() { throw new Error('boom'); } }",
    ];
    for options in invalid {
        console_log!("options: {options}");
        rejected(open_store(js(options), JsValue::UNDEFINED), "INVALID_ARGUMENT").await;
    }
}

#[wasm_bindgen_test]
async fn limits_and_ttl_options_take_effect() {
    let store = open(js("{ maxKeyBytes: 4, maxValueBytes: 8, maxBatchSize: 2, maxSizeBytes: 100 }")).await;
    let set = |key: &str, value: &str, options: &str| store.set(ROOT, key.into(), js(value), js(options));
    resolved(set("abcd", "1", "undefined")).await;
    rejected(set("abcde", "1", "undefined"), "INVALID_KEY").await;
    rejected(store.get(ROOT, "abcde".into()), "INVALID_KEY").await;
    resolved(set("k", "new Uint8Array(8)", "undefined")).await;
    rejected(set("k", "new Uint8Array(9)", "undefined"), "VALUE_TOO_LARGE").await;
    resolved(store.mget(ROOT, js("['a', 'b']"))).await;
    rejected(store.mget(ROOT, js("['a', 'b', 'c']")), "BATCH_TOO_LARGE").await;
    rejected(store.mset(ROOT, js("{ a: 1, b: 2, c: 3 }"), NO_OPTIONS), "BATCH_TOO_LARGE").await;
    rejected(store.mdelete(ROOT, js("['abcd', 'k', 's']")), "BATCH_TOO_LARGE").await;
    let all = resolved(store.mget(ROOT, js("['abcd', 'k']"))).await;
    assert_same(&all, "[1, new Uint8Array(8)]");
    rejected(set("s", "1", "{ size: 101 }"), "VALUE_TOO_LARGE").await;
    let counted = number(store.count(ROOT)).await;
    assert_eq!(counted, 2.0, "refused writes wrote (and evicted) nothing");
    resolved(set("s", "1", "{ size: 100 }")).await;
    assert_same(&resolved(store.get(ROOT, "s".into())).await, "1");

    let (options, clock) = with_clock("{ defaultTtlMs: 1000 }");
    let store = open(options).await;
    for (key, options) in [
        ("default", "undefined"),
        ("forever", "{ ttlMs: Infinity }"),
        ("long", "{ ttlMs: 5000 }"),
        ("short", "{ ttlMs: 10 }"),
    ] {
        resolved(store.set(ROOT, key.into(), 1.into(), js(options))).await;
    }
    let live_at = |now: f64, expected: &'static str| {
        set_field(&clock, "now", now.into());
        let keys = store.keys(ROOT, NO_OPTIONS);
        async move { assert_same(&resolved(keys).await, expected) }
    };
    live_at(9.0, "['default', 'forever', 'long', 'short']").await;
    live_at(10.0, "['default', 'forever', 'long']").await;
    live_at(1000.0, "['forever', 'long']").await;
    assert_same(&resolved(store.get(ROOT, "default".into())).await, "undefined");
    assert_same(&resolved(store.has(ROOT, "default".into())).await, "false");
    assert_eq!(number(store.count(ROOT)).await, 2.0);
    live_at(2f64.powi(53), "['forever']").await;

    let (options, clock) = with_clock("{}");
    let store = open(options).await;
    resolved(store.set(ROOT, "k".into(), 1.into(), NO_OPTIONS)).await;
    set_field(&clock, "now", 2f64.powi(53).into());
    assert_same(&resolved(store.has(ROOT, "k".into())).await, "true");
}

// ---- key/value operations ----

#[wasm_bindgen_test]
async fn set_get_has_delete_round_trip_json_values() {
    let store = open(JsValue::UNDEFINED).await;
    let values = [
        "null",
        "true",
        "false",
        "0",
        "-1.5",
        "1e300",
        "5e-324",
        "Number.MAX_SAFE_INTEGER",
        "''",
        "'text with \"quotes\", \\\\ and é😀'",
        "[]",
        "{}",
        "[1, 'a', null, { b: [true, {}] }]",
        "{ nested: { deep: [1, 2, { x: 'y' }] }, 'a key with spaces': 0 }",
        "JSON.parse('['.repeat(128) + ']'.repeat(128))",
    ];
    for (index, value) in values.iter().enumerate() {
        let key = JsValue::from(format!("v{index}"));
        assert_same(&resolved(store.has(ROOT, key.clone())).await, "false");
        resolved(store.set(ROOT, key.clone(), js(value), NO_OPTIONS)).await;
        assert_same(&resolved(store.has(ROOT, key.clone())).await, "true");
        assert_same(&resolved(store.get(ROOT, key)).await, value);
    }
    // -0 is the one normalisation.
    resolved(store.set(ROOT, "zero".into(), js("-0"), NO_OPTIONS)).await;
    let zero = resolved(store.get(ROOT, "zero".into())).await.as_f64();
    assert!(zero.is_some_and(|zero| zero == 0.0 && zero.is_sign_positive()));
    // `__proto__` and `constructor` read back as own data properties.
    let proto = "JSON.parse('{\"__proto__\": {\"polluted\": 1}, \"constructor\": 2}')";
    resolved(store.set(ROOT, "proto".into(), js(proto), NO_OPTIONS)).await;
    let read = resolved(store.get(ROOT, "proto".into())).await;
    assert_same(
        &js_sys::Object::keys(read.unchecked_ref::<js_sys::Object>()),
        "['__proto__', 'constructor']",
    );
    assert_same(&field(&read, "constructor"), "2");
    assert!(js("({}).polluted").is_undefined());
    // get returns a fresh copy.
    resolved(store.set(ROOT, "obj".into(), js("{ a: [1] }"), NO_OPTIONS)).await;
    set_field(&resolved(store.get(ROOT, "obj".into())).await, "a", 2.into());
    assert_same(&resolved(store.get(ROOT, "obj".into())).await, "{ a: [1] }");
    // overwrite, delete, delete again, missing keys
    resolved(store.set(ROOT, "obj".into(), "b".into(), NO_OPTIONS)).await;
    assert_same(&resolved(store.get(ROOT, "obj".into())).await, "'b'");
    assert_same(&resolved(store.delete(ROOT, "obj".into())).await, "true");
    assert_same(&resolved(store.delete(ROOT, "obj".into())).await, "false");
    assert_same(&resolved(store.get(ROOT, "obj".into())).await, "undefined");
    assert_same(&resolved(store.has(ROOT, "obj".into())).await, "false");
    assert_eq!(number(store.count(ROOT)).await, values.len() as f64 + 2.0);
}

#[wasm_bindgen_test]
async fn uint8array_values_round_trip_as_fresh_uint8arrays() {
    let store = open(JsValue::UNDEFINED).await;
    for (key, bytes) in [("bin", vec![0u8, 1, 127, 128, 255]), ("empty", vec![])] {
        let value = Uint8Array::from(bytes.as_slice());
        resolved(store.set(ROOT, key.into(), value.into(), NO_OPTIONS)).await;
        let read = resolved(store.get(ROOT, key.into())).await;
        let read = read.dyn_ref::<Uint8Array>().expect("read back as a Uint8Array");
        assert_eq!(read.to_vec(), bytes);
        read.fill(9, 0, read.length());
        let again: Uint8Array = resolved(store.get(ROOT, key.into())).await.unchecked_into();
        assert_eq!(again.to_vec(), bytes, "get returns a fresh copy");
    }
    // A Uint8Array's size is its length: "bin" 3 + 5, "empty" 5 + 0.
    assert_eq!(number(store.current_cache_size(ROOT)).await, 13.0);
    resolved(store.mset(ROOT, js("[['m', new Uint8Array([7, 8])]]"), NO_OPTIONS)).await;
    let read = resolved(store.mget(ROOT, js("['m', 'bin', 'missing']"))).await;
    assert_same(&read, "[new Uint8Array([7, 8]), new Uint8Array([0, 1, 127, 128, 255]), undefined]");
    assert!(Array::from(&read).get(0).is_instance_of::<Uint8Array>());
    assert_eq!(number(store.current_cache_size(ROOT)).await, 16.0);
    for nested in ["{ b: new Uint8Array(1) }", "[new Uint8Array(1)]"] {
        rejected(store.set(ROOT, "nested".into(), js(nested), NO_OPTIONS), "INVALID_VALUE").await;
    }
}

#[wasm_bindgen_test]
async fn mget_mset_mdelete_round_trip_in_every_entries_form() {
    let store = open(JsValue::UNDEFINED).await;
    let forms =
        ["[['a', 1], ['b', { x: [2] }]]", "new Map([['c', 'three'], ['d', null]])", "{ e: [5], f: false }"];
    for entries in forms {
        resolved(store.mset(ROOT, js(entries), NO_OPTIONS)).await;
    }
    let all = "['f', 'missing', 'a', 'b', 'c', 'd', 'e', 'a']";
    assert_same(
        &resolved(store.mget(ROOT, js(all))).await,
        "[false, undefined, 1, { x: [2] }, 'three', null, [5], 1]",
    );
    assert_same(&resolved(store.mget(ROOT, js("[]"))).await, "[]");
    resolved(store.mset(ROOT, js("[]"), NO_OPTIONS)).await;
    // The last of duplicate keys wins, and sizes stay the sum of live entries.
    resolved(store.mset(ROOT, js("[['dup', 1], ['dup', new Uint8Array(4)]]"), NO_OPTIONS)).await;
    assert_same(&resolved(store.get(ROOT, "dup".into())).await, "new Uint8Array(4)");
    let before = number(store.current_cache_size(ROOT)).await;
    let deleted = store.mdelete(ROOT, js("['dup', 'missing', 'dup']"));
    assert_same(&resolved(deleted).await, "1");
    assert_eq!(number(store.current_cache_size(ROOT)).await, before - 7.0, "'dup' had 3 + 4 bytes");
    assert_same(&resolved(store.mdelete(ROOT, js("['a', 'b', 'a']"))).await, "2");
    assert_same(
        &resolved(store.mget(ROOT, js("['a', 'b', 'c', 'dup']"))).await,
        "[undefined, undefined, 'three', undefined]",
    );
    assert_eq!(number(store.count(ROOT)).await, 4.0);
    // mset with ttlMs
    let (options, clock) = with_clock("{}");
    let store = open(options).await;
    let entries = js("{ a: 1, b: 2 }");
    resolved(store.mset(ROOT, entries, js("{ ttlMs: 100 }"))).await;
    set_field(&clock, "now", 100.into());
    assert_same(&resolved(store.mget(ROOT, js("['a', 'b']"))).await, "[undefined, undefined]");
    assert_eq!((number(store.count(ROOT)).await, number(store.current_cache_size(ROOT)).await), (0.0, 0.0));
}

#[wasm_bindgen_test]
async fn keys_follow_utf8_order_literal_prefixes_limit_and_after() {
    let store = open(JsValue::UNDEFINED).await;
    let keys = ["b", "a", "a%c", "a_c", "abc", "B", "A", "é", "\u{FFFD}", "😀", "a"];
    for key in keys {
        resolved(store.set(ROOT, key.into(), 1.into(), NO_OPTIONS)).await;
    }
    // UTF-8 byte order: case matters, and U+FFFD sorts before U+1F600
    // (in UTF-16 order it would not).
    const ALL: &str = "['A', 'B', 'a', 'a%c', 'a_c', 'abc', 'b', 'é', '\u{FFFD}', '😀']";
    let cases = [
        ("undefined", ALL),
        ("{ prefix: '' }", ALL),
        ("{ prefix: 'a' }", "['a', 'a%c', 'a_c', 'abc']"),
        ("{ prefix: 'a%' }", "['a%c']"),
        ("{ prefix: 'a_' }", "['a_c']"),
        ("{ prefix: 'A' }", "['A']"),
        ("{ prefix: '\u{FFFD}' }", "['\u{FFFD}']"),
        ("{ prefix: 'z' }", "[]"),
        ("{ limit: 2 }", "['A', 'B']"),
        ("{ after: 'abc' }", "['b', 'é', '\u{FFFD}', '😀']"),
        ("{ prefix: 'a', after: 'a', limit: 2 }", "['a%c', 'a_c']"),
    ];
    for (query, expected) in cases {
        assert_same(&resolved(store.keys(ROOT, js(query))).await, expected);
    }
    assert_eq!(number(store.count(ROOT)).await, 10.0);
    resolved(store.clear(ROOT)).await;
    assert_same(&resolved(store.keys(ROOT, NO_OPTIONS)).await, "[]");
    assert_eq!((number(store.count(ROOT)).await, number(store.current_cache_size(ROOT)).await), (0.0, 0.0));
    assert_same(&resolved(store.get(ROOT, "a".into())).await, "undefined");
}

#[wasm_bindgen_test]
async fn cache_size_follows_explicit_sizes() {
    let store = open(JsValue::UNDEFINED).await;
    assert_eq!(number(store.current_cache_size(ROOT)).await, 0.0);
    let set = |key: &str, size: u32| {
        let options = js(&format!("{{ size: {size} }}"));
        store.set(ROOT, key.into(), js("{ files: ['a.tsx'] }"), options)
    };
    resolved(set("component:react:button", 100)).await;
    resolved(set("block:react:dashboard-01", 200)).await;
    assert_eq!(number(store.current_cache_size(ROOT)).await, 300.0);
    assert_same(&resolved(store.delete(ROOT, "component:react:button".into())).await, "true");
    assert_eq!(number(store.current_cache_size(ROOT)).await, 200.0);
    resolved(set("block:react:dashboard-01", 50)).await;
    assert_eq!(number(store.current_cache_size(ROOT)).await, 50.0, "an overwrite replaces the size");
    resolved(set("zero", 0)).await;
    assert_eq!((number(store.count(ROOT)).await, number(store.current_cache_size(ROOT)).await), (2.0, 50.0));
}

#[wasm_bindgen_test]
async fn namespaces_are_separate_but_counted_together() {
    let store = open(JsValue::UNDEFINED).await;
    let spaces = ["undefined", "'a'", "'A'", "'a:b'", "'a%'"];
    for (index, ns) in spaces.iter().enumerate() {
        let value = js(&format!("new Uint8Array([{index}])"));
        resolved(store.set(js(ns), "k".into(), value, NO_OPTIONS)).await;
    }
    for (index, ns) in spaces.iter().enumerate() {
        let value = format!("new Uint8Array([{index}])");
        assert_same(&resolved(store.get(js(ns), "k".into())).await, &value);
        assert_same(&resolved(store.keys(js(ns), NO_OPTIONS)).await, "['k']");
    }
    assert_same(&resolved(store.delete(js("'a'"), "k".into())).await, "true");
    assert_same(&resolved(store.mget(ROOT, js("['k']"))).await, "[new Uint8Array([0])]");
    assert_same(&resolved(store.has(js("'a:b'"), "k".into())).await, "true");
    assert_same(&resolved(store.mdelete(js("'a'"), js("['k']"))).await, "0");
    // count, size and clear cover every namespace; a name is not part of the size.
    assert_eq!(number(store.count(ROOT)).await, 4.0);
    resolved(store.set(js("'a long namespace'"), "b".into(), js("new Uint8Array(2)"), NO_OPTIONS)).await;
    assert_eq!(number(store.current_cache_size(ROOT)).await, 4.0 * 2.0 + 3.0);
    resolved(store.clear(ROOT)).await;
    assert_eq!(number(store.count(ROOT)).await, 0.0);
    assert_same(&resolved(store.get(js("'A'"), "k".into())).await, "undefined");
    for bad in ["''", "5", "null", "'\\uD800'"] {
        rejected(store.get(js(bad), "k".into()), "INVALID_KEY").await;
        rejected(store.keys(js(bad), NO_OPTIONS), "INVALID_KEY").await;
    }
}

#[wasm_bindgen_test]
async fn invalid_arguments_reject_and_write_nothing() {
    let store = open(JsValue::UNDEFINED).await;
    let bad_keys = ["''", "5", "null", "undefined", "['k']", "'\\uD800'", "'x'.repeat(1025)"];
    for key in bad_keys {
        console_log!("key: {key}");
        rejected(store.set(ROOT, js(key), 1.into(), NO_OPTIONS), "INVALID_KEY").await;
        rejected(store.get(ROOT, js(key)), "INVALID_KEY").await;
        rejected(store.has(ROOT, js(key)), "INVALID_KEY").await;
        rejected(store.delete(ROOT, js(key)), "INVALID_KEY").await;
        let list = js(&format!("['ok', {key}]"));
        rejected(store.mget(ROOT, list.clone()), "INVALID_KEY").await;
        rejected(store.mdelete(ROOT, list), "INVALID_KEY").await;
    }
    let bad_values = [
        "undefined",
        "() => 1",
        "NaN",
        "Infinity",
        "-Infinity",
        "10n",
        "Symbol('s')",
        "new Date(0)",
        "new Map()",
        "new Set()",
        "new (class Thing {})()",
        "{ a: undefined }",
        "[1, undefined]",
        "[1, , 3]",
        "'\\uD800'",
        "{ k: '\\uDC00' }",
        "{ [Symbol('s')]: 1 }",
        "(() => { const o = {}; o.self = o; return o; })()",
        "JSON.parse('['.repeat(129) + ']'.repeat(129))",
        "{ get boom() { throw new Error('boom'); } }",
    ];
    for value in bad_values {
        console_log!("value: {value}");
        rejected(store.set(ROOT, "k".into(), js(value), NO_OPTIONS), "INVALID_VALUE").await;
    }
    let bad_set_options = [
        "5",
        "{ ttlMs: 0 }",
        "{ ttlMs: -1 }",
        "{ ttlMs: NaN }",
        "{ ttlMs: '1' }",
        "{ size: -1 }",
        "{ size: 1.5 }",
        "{ size: '1' }",
        "{ bogus: 1 }",
    ];
    for options in bad_set_options {
        console_log!("set options: {options}");
        rejected(store.set(ROOT, "k".into(), 1.into(), js(options)), "INVALID_ARGUMENT").await;
    }
    let bad_calls = [
        store.mget(ROOT, "k".into()),
        store.mdelete(ROOT, js("{ 0: 'k', length: 1 }")),
        store.mset(ROOT, 5.into(), NO_OPTIONS),
        store.mset(ROOT, js("[['k']]"), NO_OPTIONS),
        store.mset(ROOT, js("[['k', 1, 2]]"), NO_OPTIONS),
        store.mset(ROOT, js("{ k: 1 }"), js("{ ttlMs: 0 }")),
        store.mset(ROOT, js("{ k: 1 }"), js("{ size: 1 }")),
        store.keys(ROOT, js("{ limit: 0 }")),
        store.keys(ROOT, js("{ limit: 1.5 }")),
        store.keys(ROOT, js("{ prefix: 5 }")),
        store.keys(ROOT, js("{ after: null }")),
        store.keys(ROOT, js("{ bogus: true }")),
    ];
    for outcome in settle_all(&bad_calls).await.outcomes {
        assert_storage_error(&outcome.expect_err("a bad call resolved"), "INVALID_ARGUMENT");
    }
    assert_eq!(number(store.count(ROOT)).await, 0.0, "no refused call wrote anything");
}

#[wasm_bindgen_test]
async fn mset_is_all_or_nothing() {
    let store = open(js("{ maxValueBytes: 16 }")).await;
    resolved(store.mset(ROOT, js("{ a: 'old', keep: 1 }"), NO_OPTIONS)).await;
    let size = number(store.current_cache_size(ROOT)).await;
    let batches = [
        ("[['a', 'new'], ['b', 2], ['c', undefined], ['d', 4]]", "INVALID_VALUE"),
        ("new Map([['a', 'new'], ['b', 2], ['c', () => 3], ['d', 4]])", "INVALID_VALUE"),
        ("{ a: 'new', b: 2, c: NaN, d: 4 }", "INVALID_VALUE"),
        ("[['a', 'new'], ['b', 2], ['c', { x: [new Date()] }], ['d', 4]]", "INVALID_VALUE"),
        ("[['a', 'new'], ['b', 2], ['', 3], ['d', 4]]", "INVALID_KEY"),
        ("[['a', 'new'], ['b', 2], ['c', new Uint8Array(17)], ['d', 4]]", "VALUE_TOO_LARGE"),
    ];
    for (entries, expected) in batches {
        console_log!("entries: {entries}");
        rejected(store.mset(ROOT, js(entries), NO_OPTIONS), expected).await;
        let read = store.mget(ROOT, js("['a', 'b', 'c', 'd', 'keep']"));
        assert_same(&resolved(read).await, "['old', undefined, undefined, undefined, 1]");
        assert_eq!(
            (number(store.count(ROOT)).await, number(store.current_cache_size(ROOT)).await),
            (2.0, size)
        );
    }
}

// ---- the queue and the lifecycle ----

#[wasm_bindgen_test]
async fn operations_fired_together_settle_in_call_order() {
    let store = open(JsValue::UNDEFINED).await;
    let key = || JsValue::from("k");
    let set = |value: &str| store.set(ROOT, key(), js(value), NO_OPTIONS);
    let calls = [
        (set("1"), "undefined"),
        (store.get(ROOT, key()), "1"),
        (set("[2]"), "undefined"),
        (store.get(ROOT, key()), "[2]"),
        (store.has(ROOT, key()), "true"),
        (store.count(ROOT), "1"),
        (store.delete(ROOT, key()), "true"),
        (store.get(ROOT, key()), "undefined"),
        (store.has(ROOT, key()), "false"),
        (store.delete(ROOT, key()), "false"),
        (store.mset(ROOT, js("{ k: 3, j: 4 }"), NO_OPTIONS), "undefined"),
        (store.mget(ROOT, js("['j', 'k', 'x']")), "[4, 3, undefined]"),
        (store.keys(ROOT, NO_OPTIONS), "['j', 'k']"),
        (set("new Uint8Array(3)"), "undefined"),
        (store.current_cache_size(ROOT), "4 + 2"),
        (store.mdelete(ROOT, js("['j', 'k']")), "2"),
        (store.count(ROOT), "0"),
        (set("5"), "undefined"),
        (store.clear(ROOT), "undefined"),
        (store.mget(ROOT, js("['k']")), "[undefined]"),
    ];
    let promises: Vec<Promise> = calls.iter().map(|(promise, _)| promise.clone()).collect();
    let settled = settle_all(&promises).await;
    assert_eq!(settled.order, (0..calls.len() as u32).collect::<Vec<_>>());
    for ((_, expected), outcome) in calls.iter().zip(settled.outcomes) {
        let value = outcome.unwrap_or_else(|error| panic!("{expected}: {error:?}"));
        assert_same(&value, expected);
    }
}

#[wasm_bindgen_test]
async fn every_promise_settles_across_dispose() {
    let store = open(JsValue::UNDEFINED).await;
    let promises: Vec<Promise> = (0..100)
        .map(|i| match i % 4 {
            0 => store.set(ROOT, format!("k{i}").into(), i.into(), NO_OPTIONS),
            1 => store.get(ROOT, format!("k{}", i - 1).into()),
            2 => store.mset(ROOT, js(&format!("{{ m{i}: {i} }}")), NO_OPTIONS),
            _ => store.count(ROOT),
        })
        .collect();
    let disposed = store.dispose();
    assert!(store.is_disposed());
    assert_same(&resolved(disposed).await, "undefined");
    let settled = settle_all(&promises).await;
    assert_eq!(settled.outcomes.len(), 100);
    for outcome in settled.outcomes {
        if let Err(error) = outcome {
            assert_storage_error(&error, "DISPOSED");
        }
    }
}

#[wasm_bindgen_test]
async fn after_dispose_everything_rejects_with_disposed() {
    let store = open(JsValue::UNDEFINED).await;
    resolved(store.set(ROOT, "k".into(), 1.into(), NO_OPTIONS)).await;
    assert!(!store.is_disposed());
    resolved(store.dispose()).await;
    assert!(store.is_disposed());
    assert_same(&resolved(store.dispose()).await, "undefined");
    assert!(store.is_disposed());
    let calls = [
        store.set(ROOT, "k".into(), 2.into(), NO_OPTIONS),
        store.get(ROOT, "k".into()),
        store.has(ROOT, "k".into()),
        store.delete(ROOT, "k".into()),
        store.mget(ROOT, js("['k']")),
        store.mset(ROOT, js("{ k: 2 }"), NO_OPTIONS),
        store.mdelete(ROOT, js("['k']")),
        store.clear(ROOT),
        store.keys(ROOT, NO_OPTIONS),
        store.count(ROOT),
        store.current_cache_size(ROOT),
        store.get(js("'ns'"), "k".into()),
    ];
    for outcome in settle_all(&calls).await.outcomes {
        assert_storage_error(&outcome.expect_err("resolved after dispose"), "DISPOSED");
    }
}

#[wasm_bindgen_test]
async fn a_full_queue_refuses_with_queue_full() {
    let store = open(js("{ maxQueueLength: 2 }")).await;
    let calls = [
        store.set(ROOT, "a".into(), 1.into(), NO_OPTIONS),
        store.get(ROOT, "a".into()),
        store.set(ROOT, "c".into(), 3.into(), NO_OPTIONS),
    ];
    let settled = settle_all(&calls).await;
    let [first, second, third] = <[_; 3]>::try_from(settled.outcomes).unwrap();
    assert_same(&first.expect("the first waits"), "undefined");
    assert_same(&second.expect("the second waits"), "1");
    assert_storage_error(&third.expect_err("the third is refused"), "QUEUE_FULL");
    // The queue has room again, and the refused write left no trace.
    let calls = [store.has(ROOT, "c".into()), store.count(ROOT)];
    let outcomes = settle_all(&calls).await.outcomes;
    let outcomes: Vec<String> = outcomes.iter().map(|o| show(o.as_ref().unwrap())).collect();
    assert_eq!(outcomes, ["false", "1"]);
}

#[wasm_bindgen_test]
async fn operations_that_wait_too_long_time_out_without_effect() {
    // The clock moves 1000 ms per reading, so an operation waits about
    // 1000 ms per operation queued with it.
    let (options, clock) = with_clock("{ operationTimeoutMs: 2500 }");
    set_field(&clock, "step", 1000.into());
    let store = open(options).await;
    resolved(store.set(ROOT, "alone".into(), 1.into(), NO_OPTIONS)).await;
    let writes: Vec<Promise> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|key| store.set(ROOT, (*key).into(), 1.into(), NO_OPTIONS))
        .collect();
    for outcome in settle_all(&writes).await.outcomes {
        assert_storage_error(&outcome.expect_err("waited too long"), "TIMEOUT");
    }
    assert_same(&resolved(store.keys(ROOT, NO_OPTIONS)).await, "['alone']");

    // The default operationTimeoutMs (30 s) lets 10 wait but not 40.
    let (options, clock) = with_clock("{}");
    set_field(&clock, "step", 1000.into());
    let store = open(options).await;
    for (waiting, timed_out) in [(10, false), (40, true)] {
        let counts: Vec<Promise> = (0..waiting).map(|_| store.count(ROOT)).collect();
        for outcome in settle_all(&counts).await.outcomes {
            match outcome {
                Ok(_) => assert!(!timed_out, "{waiting} waiting"),
                Err(error) => {
                    assert!(timed_out, "{waiting} waiting: {error:?}");
                    assert_storage_error(&error, "TIMEOUT");
                }
            }
        }
    }
}

#[wasm_bindgen_test]
async fn errors_are_error_instances_named_storage_error() {
    let from_open = call(open_store(js("{ bogus: 1 }"), JsValue::UNDEFINED)).await.unwrap_err();
    let store = open(JsValue::UNDEFINED).await;
    let from_validation = call(store.get(ROOT, "".into())).await.unwrap_err();
    let from_queue = store.count(ROOT);
    let disposed = store.dispose();
    let from_queue = call(from_queue).await.unwrap_err();
    let is_storage_error: Function =
        js("(e) => e instanceof Error && e.name === 'StorageError' && typeof e.stack === 'string' \
            && String(e).startsWith('StorageError: ')")
        .unchecked_into();
    resolved(disposed).await;
    for error in [from_open, from_validation, from_queue] {
        let checked = is_storage_error.call1(&JsValue::UNDEFINED, &error).unwrap();
        assert_eq!(checked.as_bool(), Some(true), "{error:?}");
    }
}

// ---- hostile arguments and the budget ----

/// Calls `make` from JS, so that a synchronous throw fails the test with a
/// clear message instead of unwinding through the harness.
fn guarded(make: impl FnOnce() -> Promise + 'static) -> Promise {
    let make: Function = Closure::once_into_js(make).unchecked_into();
    let promise = make.call0(&JsValue::UNDEFINED);
    promise
        .unwrap_or_else(|error| panic!("threw synchronously instead of rejecting: {error:?}"))
        .unchecked_into()
}

#[wasm_bindgen_test]
async fn throwing_getters_and_proxies_reject_instead_of_throwing() {
    let options = js("new Proxy({}, { ownKeys() { throw new Error('boom'); } })");
    rejected(guarded(|| open_store(options, JsValue::UNDEFINED)), "INVALID_ARGUMENT").await;
    let store = open(JsValue::UNDEFINED).await;
    let value = js("Object.defineProperty([], 0, \
        { get() { throw new Error('boom'); }, enumerable: true })");
    let set = guarded(move || store.set(ROOT, "k".into(), value, NO_OPTIONS));
    rejected(set, "INVALID_VALUE").await;
}

#[wasm_bindgen_test]
async fn class_instances_are_not_taken_for_plain_objects() {
    rejected(open_store(js("new Map([['bogus', 1]])"), JsValue::UNDEFINED), "INVALID_ARGUMENT").await;
    let store = open(JsValue::UNDEFINED).await;
    for entries in ["new Set([['a', 1]])", "new Date(0)"] {
        let mset = store.mset(ROOT, js(entries), NO_OPTIONS);
        rejected(mset, "INVALID_ARGUMENT").await;
    }
}

#[wasm_bindgen_test]
async fn writes_beyond_max_size_bytes_evict_the_least_recently_used() {
    let store = open(js("{ maxSizeBytes: 100 }")).await;
    for key in ["a", "b"] {
        resolved(store.set(ROOT, key.into(), 1.into(), js("{ size: 40 }"))).await;
    }
    resolved(store.get(ROOT, "a".into())).await;
    resolved(store.set(ROOT, "c".into(), 1.into(), js("{ size: 40 }"))).await;
    assert_same(&resolved(store.keys(ROOT, NO_OPTIONS)).await, "['a', 'c']");
    assert_eq!(number(store.current_cache_size(ROOT)).await, 80.0);
}

/// Here (Node without the facade's file host, or a page's main thread) there
/// is neither a file host nor OPFS: a file or temp path is UNSUPPORTED,
/// while ":memory:" works.
#[wasm_bindgen_test]
async fn file_paths_without_file_storage_are_unsupported() {
    for path in ["{ path: 'cache.sqlite' }", "{ path: ':temp:' }"] {
        rejected(open_store(js(path), JsValue::UNDEFINED), "UNSUPPORTED").await;
    }
    open(js("{ path: ':memory:' }")).await;
}
