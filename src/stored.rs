//! Stored values on their way back to JS, in the form that crosses the wasm
//! boundary in the fewest steps: a JSON value as its text (the facade parses
//! it, js/stored.ts), bytes as a fresh `Uint8Array`, an `mget` batch as flat
//! data. Also the UTF-16 arithmetic the flat forms need.

use js_sys::Uint8Array;
use wasm_bindgen::JsValue;

use crate::error::{Result, StorageError};
use crate::store::ReadEntry;
use crate::value::{EncodedValue, ValueKind};

/// A stored value as it crosses back to JS: JSON as its text, for the facade
/// to `JSON.parse` (js/stored.ts) in one step, bytes as a fresh `Uint8Array`.
pub fn stored_form(value: &EncodedValue) -> Result<JsValue> {
    match value.kind {
        ValueKind::Bytes => Ok(Uint8Array::from(value.bytes.as_slice()).into()),
        ValueKind::Json => Ok(JsValue::from_str(json_text(&value.bytes)?)),
    }
}

fn json_text(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| StorageError::Corrupt("a stored value is not valid UTF-8".into()))
}

/// The values of an `mget` as flat data, so the batch crosses to JS in a few
/// steps whatever its length: `[text, ends, kinds, bytes, expiries]`.
/// `kinds[i]` is 0 (missing), 1 or 3 (JSON: its text ends at UTF-16 offset
/// `ends[i]` of `text`, where the previous JSON value's ends; 3 if its entry
/// expires, at the next of `expiries`, which the facade's read cache keeps
/// with it) or 2 (bytes: the next of `bytes`).
pub fn stored_batch(entries: &[Option<ReadEntry>]) -> Result<JsValue> {
    let mut text = String::new();
    let mut ends = Vec::with_capacity(entries.len());
    let mut kinds = Vec::with_capacity(entries.len());
    let mut expiries = Vec::new();
    let bytes = js_sys::Array::new();
    let mut end = 0;
    for entry in entries {
        let kind = match entry {
            None => BatchKind::Missing,
            Some(ReadEntry { value: EncodedValue { kind: ValueKind::Json, bytes }, expires_at }) => {
                let json = json_text(bytes)?;
                text.push_str(json);
                end += utf16_length(json);
                match expires_at {
                    Some(at) => {
                        expiries.push(*at as f64);
                        BatchKind::ExpiringJson
                    }
                    None => BatchKind::Json,
                }
            }
            Some(ReadEntry { value: EncodedValue { kind: ValueKind::Bytes, bytes: stored }, .. }) => {
                bytes.push(&Uint8Array::from(stored.as_slice()));
                BatchKind::Bytes
            }
        };
        ends.push(end as u32);
        kinds.push(kind as u8);
    }
    let ends = js_sys::Uint32Array::from(ends.as_slice());
    let kinds = Uint8Array::from(kinds.as_slice());
    let expiries = js_sys::Float64Array::from(expiries.as_slice());
    Ok(js_sys::Array::of5(&JsValue::from_str(&text), &ends, &kinds, &bytes, &expiries).into())
}

/// The kinds of `stored_batch`, as js/stored.ts reads them.
#[derive(Clone, Copy)]
enum BatchKind {
    Missing = 0,
    Json = 1,
    Bytes = 2,
    ExpiringJson = 3,
}

/// How many UTF-16 units `text` takes in JS: one per character, two for a
/// character beyond the BMP (the ones UTF-8 writes in four bytes).
pub fn utf16_length(text: &str) -> usize {
    // ASCII, the common case: one unit per byte, checked a word at a time.
    if text.is_ascii() {
        return text.len();
    }
    text.bytes().map(|byte| usize::from(byte & 0xC0 != 0x80) + usize::from(byte >= 0xF0)).sum()
}

/// `text` split after its first `units` UTF-16 units, or `None` if it is
/// shorter or the split would fall inside a character.
pub fn split_utf16(text: &str, units: usize) -> Option<(&str, &str)> {
    // ASCII, the common case: a byte per unit, no walk through the characters.
    if text.as_bytes().get(..units).is_some_and(<[u8]>::is_ascii) {
        return Some(text.split_at(units));
    }
    let mut seen = 0;
    for (index, character) in text.char_indices() {
        if seen >= units {
            return (seen == units).then(|| text.split_at(index));
        }
        seen += character.len_utf16();
    }
    (seen == units).then_some((text, ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use js_sys::JsString;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn eval(source: &str) -> JsValue {
        js_sys::eval(source).expect("test source evaluates")
    }

    #[wasm_bindgen_test]
    fn utf16_lengths_and_splits_follow_js() {
        for source in ["''", "'abc'", "'é€'", "'a😀b'", "'\\u0000'"] {
            let js: JsString = eval(source).unchecked_into();
            assert_eq!(utf16_length(&String::from(&js)), js.length() as usize, "{source}");
        }
        assert_eq!(split_utf16("a😀b", 3), Some(("a😀", "b")));
        assert_eq!(split_utf16("a😀b", 4), Some(("a😀b", "")));
        assert_eq!(split_utf16("é", 0), Some(("", "é")));
        assert_eq!(split_utf16("a😀b", 2), None, "inside a surrogate pair");
        assert_eq!(split_utf16("ab", 3), None, "past the end");
        assert_eq!(split_utf16("abc", 3), Some(("abc", "")), "all ASCII");
        assert_eq!(split_utf16("ab😀", 2), Some(("ab", "😀")), "ASCII before the split");
        assert_eq!(split_utf16("aé", 2), Some(("aé", "")), "not ASCII before the split");
    }

    #[wasm_bindgen_test]
    fn a_batch_crosses_as_text_offsets_kinds_and_bytes() {
        let entry = |kind, bytes: &[u8], expires_at| {
            Some(ReadEntry { value: EncodedValue { kind, bytes: bytes.to_vec() }, expires_at })
        };
        let json = |text: &str| entry(ValueKind::Json, text.as_bytes(), None);
        let batch = stored_batch(&[
            json("\"é😀\""),
            None,
            entry(ValueKind::Bytes, &[7, 8], Some(5)),
            json("[1]"),
            entry(ValueKind::Json, b"2", Some(1_700_000_000_123)),
        ])
        .unwrap();
        let parts = js_sys::Array::from(&batch);
        assert_eq!(parts.get(0).as_string().unwrap(), "\"é😀\"[1]2");
        assert_eq!(js_sys::Uint32Array::from(parts.get(1)).to_vec(), [5, 5, 5, 8, 9]);
        assert_eq!(
            Uint8Array::from(parts.get(2)).to_vec(),
            [1, 0, 2, 1, 3],
            "3: JSON of an entry that expires"
        );
        let stored = js_sys::Array::from(&parts.get(3));
        assert_eq!(Uint8Array::from(stored.get(0)).to_vec(), [7, 8]);
        assert_eq!(js_sys::Float64Array::from(parts.get(4)).to_vec(), [1_700_000_000_123.0], "its expiry");
        let corrupt = stored_batch(&[entry(ValueKind::Json, &[0xFF], None)]);
        assert_eq!(corrupt.unwrap_err().code(), ErrorCode::Corrupt);
    }
}
