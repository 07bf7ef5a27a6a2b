//! Opening and every key/value call: larder through its wasm-bindgen boundary (`openStore`
//! and `NativeStore`), called the way JS calls it. Every call returns a Promise
//! and every failure rejects it with a StorageError-shaped JS `Error`.
//!
//! Runs unchanged under `wasm-pack test --node` and, with
//! `WASM_BINDGEN_USE_BROWSER=1`, under `wasm-pack test --headless --chrome`.

mod common;

use common::*;
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

// ---- opening ----

#[wasm_bindgen_test]
async fn opens_with_default_options_and_documented_defaults() {
    for options in ["undefined", "null", "{}"] {
        let store = open(js(options)).await;
        resolved(store.set(ROOT, "k".into(), "v".into(), NO_OPTIONS)).await;
        assert_same(&value_of(store.get(ROOT, "k".into())).await, "'v'");
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
    value_of(store.mget(ROOT, keys(10_000))).await;
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
const FS: &str =
    "new Proxy({}, { get: (_, name) => () => { throw new Error(`fs.${String(name)} called`); } })";

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
        assert_same(&value_of(store.get(ROOT, "k".into())).await, "1");
    }
}

/// Options `openStore` refuses with INVALID_ARGUMENT.
const INVALID_OPTIONS: [&str; 54] = [
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

#[wasm_bindgen_test]
async fn invalid_and_unknown_options_reject_with_invalid_argument() {
    for options in INVALID_OPTIONS {
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
    value_of(store.mget(ROOT, js("['a', 'b']"))).await;
    rejected(store.mget(ROOT, js("['a', 'b', 'c']")), "BATCH_TOO_LARGE").await;
    rejected(store.mset(ROOT, js("{ a: 1, b: 2, c: 3 }"), NO_OPTIONS), "BATCH_TOO_LARGE").await;
    rejected(store.mdelete(ROOT, js("['abcd', 'k', 's']")), "BATCH_TOO_LARGE").await;
    let all = value_of(store.mget(ROOT, js("['abcd', 'k']"))).await;
    assert_same(&all, "[1, new Uint8Array(8)]");
    rejected(set("s", "1", "{ size: 101 }"), "VALUE_TOO_LARGE").await;
    let counted = number(store.count(ROOT)).await;
    assert_eq!(counted, 2.0, "refused writes wrote (and evicted) nothing");
    resolved(set("s", "1", "{ size: 100 }")).await;
    assert_same(&value_of(store.get(ROOT, "s".into())).await, "1");

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
    assert_same(&value_of(store.get(ROOT, "default".into())).await, "undefined");
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
        assert_same(&value_of(store.get(ROOT, key)).await, value);
    }
    // -0 is the one normalisation.
    resolved(store.set(ROOT, "zero".into(), js("-0"), NO_OPTIONS)).await;
    let zero = value_of(store.get(ROOT, "zero".into())).await.as_f64();
    assert!(zero.is_some_and(|zero| zero == 0.0 && zero.is_sign_positive()));
    // `__proto__` and `constructor` read back as own data properties.
    let proto = "JSON.parse('{\"__proto__\": {\"polluted\": 1}, \"constructor\": 2}')";
    resolved(store.set(ROOT, "proto".into(), js(proto), NO_OPTIONS)).await;
    let read = value_of(store.get(ROOT, "proto".into())).await;
    assert_same(
        &js_sys::Object::keys(read.unchecked_ref::<js_sys::Object>()),
        "['__proto__', 'constructor']",
    );
    assert_same(&field(&read, "constructor"), "2");
    assert!(js("({}).polluted").is_undefined());
    // get returns a fresh copy.
    resolved(store.set(ROOT, "obj".into(), js("{ a: [1] }"), NO_OPTIONS)).await;
    set_field(&value_of(store.get(ROOT, "obj".into())).await, "a", 2.into());
    assert_same(&value_of(store.get(ROOT, "obj".into())).await, "{ a: [1] }");
    // overwrite, delete, delete again, missing keys
    resolved(store.set(ROOT, "obj".into(), "b".into(), NO_OPTIONS)).await;
    assert_same(&value_of(store.get(ROOT, "obj".into())).await, "'b'");
    assert_same(&resolved(store.delete(ROOT, "obj".into())).await, "true");
    assert_same(&resolved(store.delete(ROOT, "obj".into())).await, "false");
    assert_same(&value_of(store.get(ROOT, "obj".into())).await, "undefined");
    assert_same(&resolved(store.has(ROOT, "obj".into())).await, "false");
    assert_eq!(number(store.count(ROOT)).await, values.len() as f64 + 2.0);
}

#[wasm_bindgen_test]
async fn uint8array_values_round_trip_as_fresh_uint8arrays() {
    let store = open(JsValue::UNDEFINED).await;
    for (key, bytes) in [("bin", vec![0u8, 1, 127, 128, 255]), ("empty", vec![])] {
        let value = Uint8Array::from(bytes.as_slice());
        resolved(store.set(ROOT, key.into(), value.into(), NO_OPTIONS)).await;
        let read = value_of(store.get(ROOT, key.into())).await;
        let read = read.dyn_ref::<Uint8Array>().expect("read back as a Uint8Array");
        assert_eq!(read.to_vec(), bytes);
        read.fill(9, 0, read.length());
        let again: Uint8Array = value_of(store.get(ROOT, key.into())).await.unchecked_into();
        assert_eq!(again.to_vec(), bytes, "get returns a fresh copy");
    }
    // A Uint8Array's size is its length: "bin" 3 + 5, "empty" 5 + 0.
    assert_eq!(number(store.current_cache_size(ROOT)).await, 13.0);
    resolved(store.mset(ROOT, js("[['m', new Uint8Array([7, 8])]]"), NO_OPTIONS)).await;
    let read = value_of(store.mget(ROOT, js("['m', 'bin', 'missing']"))).await;
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
        &value_of(store.mget(ROOT, js(all))).await,
        "[false, undefined, 1, { x: [2] }, 'three', null, [5], 1]",
    );
    assert_same(&value_of(store.mget(ROOT, js("[]"))).await, "[]");
    resolved(store.mset(ROOT, js("[]"), NO_OPTIONS)).await;
    // The last of duplicate keys wins, and sizes stay the sum of live entries.
    resolved(store.mset(ROOT, js("[['dup', 1], ['dup', new Uint8Array(4)]]"), NO_OPTIONS)).await;
    assert_same(&value_of(store.get(ROOT, "dup".into())).await, "new Uint8Array(4)");
    let before = number(store.current_cache_size(ROOT)).await;
    let deleted = store.mdelete(ROOT, js("['dup', 'missing', 'dup']"));
    assert_same(&resolved(deleted).await, "1");
    assert_eq!(number(store.current_cache_size(ROOT)).await, before - 7.0, "'dup' had 3 + 4 bytes");
    assert_same(&resolved(store.mdelete(ROOT, js("['a', 'b', 'a']"))).await, "2");
    assert_same(
        &value_of(store.mget(ROOT, js("['a', 'b', 'c', 'dup']"))).await,
        "[undefined, undefined, 'three', undefined]",
    );
    assert_eq!(number(store.count(ROOT)).await, 4.0);
    // mset with ttlMs
    let (options, clock) = with_clock("{}");
    let store = open(options).await;
    let entries = js("{ a: 1, b: 2 }");
    resolved(store.mset(ROOT, entries, js("{ ttlMs: 100 }"))).await;
    set_field(&clock, "now", 100.into());
    assert_same(&value_of(store.mget(ROOT, js("['a', 'b']"))).await, "[undefined, undefined]");
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
    assert_same(&value_of(store.get(ROOT, "a".into())).await, "undefined");
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
        assert_same(&value_of(store.get(js(ns), "k".into())).await, &value);
        assert_same(&resolved(store.keys(js(ns), NO_OPTIONS)).await, "['k']");
    }
    assert_same(&resolved(store.delete(js("'a'"), "k".into())).await, "true");
    assert_same(&value_of(store.mget(ROOT, js("['k']"))).await, "[new Uint8Array([0])]");
    assert_same(&resolved(store.has(js("'a:b'"), "k".into())).await, "true");
    assert_same(&resolved(store.mdelete(js("'a'"), js("['k']"))).await, "0");
    // count, size and clear cover every namespace; a name is not part of the size.
    assert_eq!(number(store.count(ROOT)).await, 4.0);
    resolved(store.set(js("'a long namespace'"), "b".into(), js("new Uint8Array(2)"), NO_OPTIONS)).await;
    assert_eq!(number(store.current_cache_size(ROOT)).await, 4.0 * 2.0 + 3.0);
    resolved(store.clear(ROOT)).await;
    assert_eq!(number(store.count(ROOT)).await, 0.0);
    assert_same(&value_of(store.get(js("'A'"), "k".into())).await, "undefined");
    for bad in ["''", "5", "null", "'\\uD800'"] {
        rejected(store.get(js(bad), "k".into()), "INVALID_KEY").await;
        rejected(store.keys(js(bad), NO_OPTIONS), "INVALID_KEY").await;
    }
}

/// Values `set` refuses with INVALID_VALUE.
const BAD_VALUES: [&str; 20] = [
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

/// `set` options refused with INVALID_ARGUMENT.
const BAD_SET_OPTIONS: [&str; 9] = [
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
    for value in BAD_VALUES {
        console_log!("value: {value}");
        rejected(store.set(ROOT, "k".into(), js(value), NO_OPTIONS), "INVALID_VALUE").await;
    }
    for options in BAD_SET_OPTIONS {
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
        assert_same(&value_of(read).await, "['old', undefined, undefined, undefined, 1]");
        assert_eq!(
            (number(store.count(ROOT)).await, number(store.current_cache_size(ROOT)).await),
            (2.0, size)
        );
    }
}
