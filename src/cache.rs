//! Cache accounting: what an entry's size is, whether it fits the budget, and
//! the running totals that make `count()` and `getCurrentCacheSize()` cheap.

use crate::codec::EncodedValue;
use crate::error::{Result, StorageError};

/// An entry's size: the caller's `size` if given, else the UTF-8 bytes of its
/// key plus the bytes of its encoded value. The namespace never counts.
pub fn entry_size(key: &str, value: &EncodedValue, explicit: Option<u64>) -> u64 {
    explicit.unwrap_or((key.len() + value.bytes.len()) as u64)
}

/// An entry bigger than the whole budget can never be stored.
pub fn check_fits_budget(key: &str, size: u64, max_size_bytes: Option<u64>) -> Result<()> {
    match max_size_bytes {
        Some(budget) if size > budget => Err(StorageError::ValueTooLarge(format!(
            "entry {key:?} is {size} bytes, more than maxSizeBytes ({budget})"
        ))),
        _ => Ok(()),
    }
}

/// Rows and bytes of every stored row, expired or not, as committed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SizeLedger {
    pub rows: u64,
    pub bytes: u64,
}

/// What one transaction changes in the ledger; applied only once it commits,
/// so a rolled-back write leaves the totals untouched.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LedgerDelta {
    rows: i64,
    bytes: i64,
}

impl LedgerDelta {
    /// The change that removes every row counted in `ledger`.
    pub fn emptying(ledger: SizeLedger) -> LedgerDelta {
        LedgerDelta {
            rows: -(ledger.rows as i64),
            bytes: -(ledger.bytes as i64),
        }
    }

    pub fn inserted(&mut self, size: u64) {
        self.rows += 1;
        self.bytes += size as i64;
    }

    pub fn removed(&mut self, size: u64) {
        self.rows -= 1;
        self.bytes -= size as i64;
    }

    pub fn replaced(&mut self, old_size: u64, new_size: u64) {
        self.bytes += new_size as i64 - old_size as i64;
    }
}

impl SizeLedger {
    pub fn apply(&mut self, delta: LedgerDelta) {
        self.rows = self
            .rows
            .checked_add_signed(delta.rows)
            .expect("row count never goes negative");
        self.bytes = self
            .bytes
            .checked_add_signed(delta.bytes)
            .expect("byte total never goes negative");
    }

    /// The totals of the live entries, given those of the expired rows.
    pub fn live(&self, expired: SizeLedger) -> SizeLedger {
        SizeLedger {
            rows: self.rows - expired.rows,
            bytes: self.bytes - expired.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ValueKind;
    use crate::error::ErrorCode;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn size_is_key_bytes_plus_encoded_bytes_unless_stated() {
        let value = EncodedValue {
            kind: ValueKind::Json,
            bytes: b"\"abc\"".to_vec(),
        };
        assert_eq!(entry_size("ké", &value, None), 3 + 5);
        assert_eq!(entry_size("ké", &value, Some(100)), 100);
        assert_eq!(entry_size("ké", &value, Some(0)), 0);
    }

    #[wasm_bindgen_test]
    fn budget_refuses_only_entries_larger_than_itself() {
        assert!(check_fits_budget("k", 10, Some(10)).is_ok());
        assert!(check_fits_budget("k", 10, None).is_ok());
        assert_eq!(
            check_fits_budget("k", 11, Some(10)).unwrap_err().code(),
            ErrorCode::ValueTooLarge
        );
    }

    #[wasm_bindgen_test]
    fn ledger_follows_inserts_overwrites_and_removals() {
        let mut ledger = SizeLedger::default();
        let mut delta = LedgerDelta::default();
        delta.inserted(100);
        delta.inserted(200);
        ledger.apply(delta);
        assert_eq!(
            ledger,
            SizeLedger {
                rows: 2,
                bytes: 300
            }
        );
        let mut delta = LedgerDelta::default();
        delta.replaced(200, 50);
        delta.removed(100);
        ledger.apply(delta);
        assert_eq!(ledger, SizeLedger { rows: 1, bytes: 50 });
        assert_eq!(
            ledger.live(SizeLedger { rows: 1, bytes: 50 }),
            SizeLedger::default()
        );
    }
}
