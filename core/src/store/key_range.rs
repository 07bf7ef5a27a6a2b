//! Key ranges: a prefix is a range of keys, never a pattern (`%`, `_` and
//! case mean nothing special), bounded above by its successor.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;

/// The smallest byte string greater than every string that starts with
/// `prefix`: the prefix with its last byte raised by one (UTF-8 never holds
/// 0xFF, so that byte always exists). `None` for the empty prefix.
pub(super) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&byte| byte != 0xff)?;
    let mut upper = prefix[..=last].to_vec();
    upper[last] += 1;
    Some(upper)
}

/// Bytes bound as TEXT, so they compare with keys byte for byte even when
/// they are not valid UTF-8 themselves (a range bound).
pub(super) struct TextBytes<'a>(pub(super) &'a [u8]);

impl ToSql for TextBytes<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_bounds() {
        assert_eq!(prefix_successor(b""), None);
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_successor("é".as_bytes()), Some(vec![0xc3, 0xaa]));
    }
}
