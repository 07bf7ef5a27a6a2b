//! A value in its stored form: JSON text or raw bytes, tagged with its kind.
//! What a JS value becomes is decided at the boundary (the wasm crate's
//! `codec`); the core only stores and returns these.

use crate::error::{Result, StorageError};

/// How a stored value's bytes are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Json = 0,
    Bytes = 1,
}

impl ValueKind {
    pub fn from_stored(tag: i64) -> Result<ValueKind> {
        match tag {
            0 => Ok(ValueKind::Json),
            1 => Ok(ValueKind::Bytes),
            other => Err(StorageError::Corrupt(format!("unknown value kind {other} in the database"))),
        }
    }
}

/// A validated value in its stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedValue {
    pub kind: ValueKind,
    pub bytes: Vec<u8>,
}
