//! The calls the facade makes with values it has made JSON text of itself
//! (`msetJson`, `setIfAbsentJson`): they store exactly what `mset` and
//! `setIfAbsent` store for the same values, and refuse what they refuse.

mod common;

use common::*;
use js_sys::JsString;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

/// A key and its value's JSON text.
type Pair = (&'static str, &'static str);

/// `msetJson`'s arguments for `[key, JSON text]` pairs: the texts joined and
/// their UTF-16 lengths.
fn flat(pairs: &[Pair]) -> (JsString, Vec<u32>) {
    let mut text = String::new();
    let mut lengths = Vec::new();
    for (key, json) in pairs {
        for part in [key, json] {
            text.push_str(part);
            lengths.push(part.encode_utf16().count() as u32);
        }
    }
    (text.as_str().into(), lengths)
}

const PAIRS: [Pair; 5] = [
    ("a", r#"{"name":"Ada","tags":["x",1,null,true]}"#),
    ("é😀", r#""né 😀 \u0000""#),
    ("n", "-1.5e-7"),
    ("a", "[]"),
    ("z", r#"{"__proto__":{"p":1}}"#),
];
const ENTRIES: &str = r#"[["a", {name: "Ada", tags: ["x", 1, null, true]}], ["é😀", "né 😀 \u0000"],
    ["n", -1.5e-7], ["a", []], ["z", JSON.parse('{"__proto__":{"p":1}}')]]"#;
const KEYS: &str = "['a', 'é😀', 'n', 'z', 'missing']";

#[wasm_bindgen_test]
async fn mset_json_stores_what_mset_stores() {
    let (json_store, value_store) = (open(JsValue::UNDEFINED).await, open(JsValue::UNDEFINED).await);
    let (text, lengths) = flat(&PAIRS);
    resolved(json_store.mset_json(ROOT, text, lengths, js("{ ttlMs: 60000 }"))).await;
    resolved(value_store.mset(ROOT, js(ENTRIES), js("{ ttlMs: 60000 }"))).await;
    let read = value_of(json_store.mget(ROOT, js(KEYS))).await;
    assert_eq!(show(&read), show(&value_of(value_store.mget(ROOT, js(KEYS))).await));
    assert_same(&field(&read, "3"), "{ ['__proto__']: { p: 1 } }");
    assert_eq!(
        number(json_store.current_cache_size(ROOT)).await,
        number(value_store.current_cache_size(ROOT)).await
    );
    resolved(json_store.mset_json(ROOT, "".into(), vec![], NO_OPTIONS)).await;
    assert_eq!(number(json_store.count(ROOT)).await, 4.0);
}

#[wasm_bindgen_test]
async fn mset_json_refuses_as_mset_does_and_writes_nothing() {
    let store = open(js("{ maxKeyBytes: 4, maxValueBytes: 8, maxBatchSize: 3 }")).await;
    let cases: [(&[Pair], &str, &str); 7] = [
        (&[("a", "1"), ("", "2")], "INVALID_KEY", "entries[1] key must not be empty"),
        (
            &[("a", "1"), ("kkkkk", "2")],
            "INVALID_KEY",
            "entries[1] key is over 4 UTF-8 bytes (5 UTF-16 units)",
        ),
        (&[("ééé", "1")], "INVALID_KEY", "entries[0] key is 6 UTF-8 bytes, more than maxKeyBytes (4)"),
        (
            &[("a", "1"), ("b", "123456789")],
            "VALUE_TOO_LARGE",
            "entries[1] (key \"b\"): the encoded value is over 9",
        ),
        (&[("c", "\"éééé\"")], "VALUE_TOO_LARGE", "entries[0] (key \"c\"): the encoded value is over 10"),
        // The first fault in entry order wins, whatever is oversized later.
        (&[("", "1"), ("b", "123456789")], "INVALID_KEY", "entries[0] key must not be empty"),
        (&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")], "BATCH_TOO_LARGE", "4 entries in one batch"),
    ];
    for (pairs, code, message) in cases {
        let (text, lengths) = flat(pairs);
        let error = rejected(store.mset_json(ROOT, text, lengths, NO_OPTIONS), code).await;
        let shown = field(&error, "message").as_string().unwrap();
        assert!(shown.starts_with(message), "{shown}");
    }
    assert_eq!(number(store.count(ROOT)).await, 0.0, "no refused batch wrote anything");
}

#[wasm_bindgen_test]
async fn mset_json_refuses_lengths_that_do_not_fit_its_text() {
    let store = open(JsValue::UNDEFINED).await;
    for (text, lengths) in [
        ("a1", vec![1]),
        ("a1", vec![1, 2]),
        ("a12", vec![1, 1]),
        ("a\"😀\"", vec![1, 2, 1, 1]),
        ("k\"😀\"", vec![1, 3]),
    ] {
        rejected(store.mset_json(ROOT, text.into(), lengths, NO_OPTIONS), "INVALID_ARGUMENT").await;
    }
    assert_eq!(number(store.count(ROOT)).await, 0.0);
}

#[wasm_bindgen_test]
async fn set_if_absent_json_stores_unless_present_and_answers_the_stored_text() {
    let store = open(js("{ maxValueBytes: 8 }")).await;
    let stored = resolved(store.set_if_absent_json(ROOT, "k".into(), "[\"é\"]".into(), NO_OPTIONS)).await;
    assert_eq!(stored.as_string().unwrap(), "[\"é\"]");
    let kept = resolved(store.set_if_absent_json(ROOT, "k".into(), "2".into(), NO_OPTIONS)).await;
    assert_eq!(kept.as_string().unwrap(), "[\"é\"]");
    assert_same(&value_of(store.get(ROOT, "k".into())).await, "['é']");
    rejected(
        store.set_if_absent_json(ROOT, "big".into(), "\"1234567\"".into(), NO_OPTIONS),
        "VALUE_TOO_LARGE",
    )
    .await;
    rejected(store.set_if_absent_json(ROOT, "".into(), "1".into(), NO_OPTIONS), "INVALID_KEY").await;
    rejected(store.set_if_absent_json(ROOT, "t".into(), "1".into(), js("{ size: 1 }")), "INVALID_ARGUMENT")
        .await;
}
