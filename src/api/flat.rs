//! Batches the facade has made flat, so that they cross into wasm in one
//! step instead of one per element: pieces of text back to back in one
//! string, and their UTF-16 lengths. The facade sends them only when every
//! piece passed the checks it can make (js/flat-keys.ts, js/plain-json.ts);
//! the checks here are the ones the element-wise readers make, in the same
//! order, so a refusal is the same whichever way the batch came.

use js_sys::JsString;

use super::convert::{at_entry, check_batch_size};
use crate::codec;
use crate::engine::Engine;
use crate::error::{Result, StorageError};
use crate::options::StoreOptions;
use crate::store::Entry;
use crate::stored;

/// The pieces of `text`, `lengths[i]` UTF-16 units each. Only the text before
/// the first length over its `limit` is copied (the caller refuses that
/// piece when it comes to it), so a huge length costs no copy.
struct FlatText {
    copied: String,
    taken: usize,
    what: &'static str,
}

impl FlatText {
    fn copy(
        text: &JsString,
        lengths: &[u32],
        limit: impl Fn(usize) -> usize,
        what: &'static str,
    ) -> Result<FlatText> {
        let oversized = (lengths.iter().enumerate())
            .position(|(slot, &units)| units as usize > limit(slot))
            .unwrap_or(lengths.len());
        // Summed wide: 10,000 lengths within their limits can pass 2^32.
        let copied_units: u64 = lengths[..oversized].iter().map(|&units| u64::from(units)).sum();
        let text_units = u64::from(text.length());
        if copied_units > text_units || (oversized == lengths.len() && copied_units != text_units) {
            return Err(malformed(what));
        }
        Ok(FlatText { copied: String::from(text.slice(0, copied_units as u32)), taken: 0, what })
    }

    /// The next piece, `units` long.
    fn take(&mut self, units: u32) -> Result<&str> {
        let rest = &self.copied[self.taken..];
        let (taken, _) = stored::split_utf16(rest, units as usize).ok_or_else(|| malformed(self.what))?;
        self.taken += taken.len();
        Ok(taken)
    }
}

/// The pieces of `text`, `lengths[i]` UTF-16 units each, or `None` if the
/// lengths do not add up to it.
pub fn pieces<'t>(text: &'t str, lengths: &[u32]) -> Option<Vec<&'t str>> {
    let mut rest = text;
    let pieces = (lengths.iter())
        .map(|&units| {
            let (piece, after) = stored::split_utf16(rest, units as usize)?;
            rest = after;
            Some(piece)
        })
        .collect::<Option<Vec<_>>>()?;
    rest.is_empty().then_some(pieces)
}

fn malformed(what: &str) -> StorageError {
    StorageError::InvalidArgument(format!("the lengths of an {what} do not add up"))
}

/// The keys of an `mget` or `mdelete` (`what`: "mget's flat keys") when the
/// facade found each a well-formed string: each checked as
/// `convert::key_list` checks it.
pub fn key_list(
    what: &'static str,
    text: &JsString,
    lengths: &[u32],
    options: &StoreOptions,
) -> Result<Vec<String>> {
    check_batch_size(lengths.len(), options)?;
    let mut flat = FlatText::copy(text, lengths, |_| options.max_key_bytes, what)?;
    let mut keys = Vec::with_capacity(lengths.len());
    for (index, &units) in lengths.iter().enumerate() {
        let label = || format!("keys[{index}]");
        codec::check_key_units(units as usize, options.max_key_bytes, &label)?;
        let key = flat.take(units)?;
        codec::check_key_bytes(key, options.max_key_bytes, &label)?;
        keys.push(key.to_owned());
    }
    Ok(keys)
}

/// The entries of `mset` when the facade found every key a well-formed string
/// and every value plain JSON (js/plain-json.ts `plainJsonEntries`): `text`
/// holds each key then its value's JSON text, `lengths` their UTF-16 lengths
/// in that order. Checked as `convert::entry_list` checks them, in the same
/// order.
pub fn json_entry_list(text: &JsString, lengths: &[u32], engine: &Engine) -> Result<Vec<Entry>> {
    let options = engine.options();
    let what = "mset's JSON texts";
    if !lengths.len().is_multiple_of(2) {
        return Err(malformed(what));
    }
    check_batch_size(lengths.len() / 2, options)?;
    let limit =
        |slot: usize| if slot.is_multiple_of(2) { options.max_key_bytes } else { options.max_value_bytes };
    let mut flat = FlatText::copy(text, lengths, limit, what)?;
    let mut entries = Vec::with_capacity(lengths.len() / 2);
    for (index, pair) in lengths.chunks(2).enumerate() {
        let label = || format!("entries[{index}] key");
        codec::check_key_units(pair[0] as usize, options.max_key_bytes, &label)?;
        let key = flat.take(pair[0])?;
        codec::check_key_bytes(key, options.max_key_bytes, &label)?;
        let key = key.to_owned();
        let value = codec::check_json_units(pair[1] as usize, options.max_value_bytes)
            .and_then(|()| flat.take(pair[1]))
            .and_then(|json| codec::json_value(json.to_owned(), options.max_value_bytes))
            .map_err(|error| at_entry(error, index, &key))?;
        entries.push(engine.entry(key, value, None)?);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn keys(text: &str, lengths: &[u32], options: &StoreOptions) -> Result<Vec<String>> {
        key_list("mget's flat keys", &JsString::from(text), lengths, options)
    }

    #[wasm_bindgen_test]
    fn flat_keys_split_by_utf16_lengths() {
        let options = StoreOptions::default();
        assert_eq!(keys("aé😀bc", &[1, 1, 2, 2], &options).unwrap(), ["a", "é", "😀", "bc"]);
        assert_eq!(keys("", &[], &options).unwrap(), Vec::<String>::new());
    }

    #[wasm_bindgen_test]
    fn flat_keys_whose_lengths_do_not_add_up_are_refused() {
        let options = StoreOptions::default();
        for (text, lengths) in [("abc", &[1, 1][..]), ("ab", &[1, 2]), ("a😀", &[2, 1]), ("a", &[])] {
            let error = keys(text, lengths, &options).unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidArgument, "{text:?} {lengths:?}");
            assert!(error.to_string().contains("do not add up"), "{error}");
        }
        // Lengths whose sum wraps past 2^32 to the text's length.
        let unbounded = StoreOptions { max_key_bytes: usize::MAX, ..StoreOptions::default() };
        let error = keys("ab", &[u32::MAX, 3], &unbounded).unwrap_err();
        assert!(error.to_string().contains("do not add up"), "{error}");
    }

    #[wasm_bindgen_test]
    fn flat_keys_are_checked_in_order_as_an_array_of_keys_is() {
        let options = StoreOptions { max_key_bytes: 4, max_batch_size: 3, ..StoreOptions::default() };
        let error = keys("abcd", &[1, 1, 1, 1], &options).unwrap_err();
        assert_eq!(error.code(), ErrorCode::BatchTooLarge, "{error}");
        // The empty key comes before the long one, whose text is never copied.
        let error = keys("a", &[1, 0, 1 << 30], &options).unwrap_err();
        assert_eq!(
            (error.code(), error.to_string()),
            (ErrorCode::InvalidKey, "keys[1] must not be empty".into())
        );
        let error = keys("aééé", &[1, 3], &options).unwrap_err();
        let expected = "keys[1] is 6 UTF-8 bytes, more than maxKeyBytes (4)";
        assert_eq!((error.code(), error.to_string()), (ErrorCode::InvalidKey, expected.into()));
    }
}
