//! What each operation's output becomes in JS, for the calls of `NativeStore`
//! to answer with: a finish function per kind of output.

use wasm_bindgen::JsValue;

use crate::error::{Result, StorageError};
use crate::operation::Output;
use crate::stored;

/// A get's value in its stored form, or `undefined`.
pub(super) fn found_value(output: Output) -> Result<JsValue> {
    match output {
        Output::Entry(None) => Ok(JsValue::UNDEFINED),
        Output::Entry(Some(entry)) => stored::stored_form(&entry.value),
        other => unexpected(other),
    }
}

/// A get's `[stored, expiresAt]` (`undefined` if it never expires), or
/// `undefined`.
pub(super) fn found_entry(output: Output) -> Result<JsValue> {
    match output {
        Output::Entry(None) => Ok(JsValue::UNDEFINED),
        Output::Entry(Some(entry)) => {
            let expires_at = entry.expires_at.map_or(JsValue::UNDEFINED, |at| JsValue::from(at as f64));
            Ok(js_sys::Array::of2(&stored::stored_form(&entry.value)?, &expires_at).into())
        }
        other => unexpected(other),
    }
}

/// An mget's entries as one flat batch (`stored::stored_batch`).
pub(super) fn found_entries(output: Output) -> Result<JsValue> {
    match output {
        Output::Entries(entries) => stored::stored_batch(&entries),
        other => unexpected(other),
    }
}

pub(super) fn done(output: Output) -> Result<JsValue> {
    match output {
        Output::Done => Ok(JsValue::UNDEFINED),
        other => unexpected(other),
    }
}

pub(super) fn flag(output: Output) -> Result<JsValue> {
    match output {
        Output::Flag(flag) => Ok(flag.into()),
        other => unexpected(other),
    }
}

pub(super) fn number(output: Output) -> Result<JsValue> {
    match output {
        Output::Number(n) => Ok((n as f64).into()),
        other => unexpected(other),
    }
}

pub(super) fn unexpected(output: Output) -> Result<JsValue> {
    let kind: &'static str = (&output).into();
    Err(StorageError::Internal(format!("an operation produced an unexpected result: {kind}")))
}
