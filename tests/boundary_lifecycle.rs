//! The queue and the lifecycle: larder through its wasm-bindgen boundary (`openStore`
//! and `NativeStore`), called the way JS calls it. Every call returns a Promise
//! and every failure rejects it with a StorageError-shaped JS `Error`.
//!
//! Runs unchanged under `wasm-pack test --node` and, with
//! `WASM_BINDGEN_USE_BROWSER=1`, under `wasm-pack test --headless --chrome`.

mod common;

use common::*;
use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

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
        assert_same(&from_stored(&value), expected);
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
    let after = store.get(ROOT, "k0".into());
    assert_same(&resolved(disposed).await, "undefined");
    let settled = settle_all(&promises).await;
    assert_eq!(settled.outcomes.len(), 100);
    rejected(after, "DISPOSED").await;
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
    resolved(store.dispose()).await;
    assert_same(&resolved(store.dispose()).await, "undefined");
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
    assert_same(&from_stored(&second.expect("the second waits")), "1");
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
    value_of(store.get(ROOT, "a".into())).await;
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
