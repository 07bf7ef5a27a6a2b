//! The one error type of larder: stable codes, their classification and the
//! mapping of SQLite result codes onto them.

use std::fmt;

/// The stable code of an error, as the README documents it ("Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidArgument,
    InvalidKey,
    InvalidValue,
    ValueTooLarge,
    BatchTooLarge,
    QueueFull,
    QuotaExceeded,
    Disposed,
    CircuitOpen,
    Locked,
    Busy,
    Timeout,
    Io,
    Corrupt,
    IncompatibleSchema,
    Unsupported,
    LoadFailed,
    Internal,
}

/// Broad family of an error, for callers that branch on kinds rather than codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Validation,
    Lifecycle,
    Capacity,
    Concurrency,
    Timeout,
    Storage,
    Corruption,
    Internal,
}

/// What the caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryAction {
    FixInput,
    Retry,
    Wait,
    Reopen,
    FreeSpace,
    ResetDatabase,
    None,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::InvalidArgument,
        ErrorCode::InvalidKey,
        ErrorCode::InvalidValue,
        ErrorCode::ValueTooLarge,
        ErrorCode::BatchTooLarge,
        ErrorCode::QueueFull,
        ErrorCode::QuotaExceeded,
        ErrorCode::Disposed,
        ErrorCode::CircuitOpen,
        ErrorCode::Locked,
        ErrorCode::Busy,
        ErrorCode::Timeout,
        ErrorCode::Io,
        ErrorCode::Corrupt,
        ErrorCode::IncompatibleSchema,
        ErrorCode::Unsupported,
        ErrorCode::LoadFailed,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::InvalidKey => "INVALID_KEY",
            ErrorCode::InvalidValue => "INVALID_VALUE",
            ErrorCode::ValueTooLarge => "VALUE_TOO_LARGE",
            ErrorCode::BatchTooLarge => "BATCH_TOO_LARGE",
            ErrorCode::QueueFull => "QUEUE_FULL",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::Disposed => "DISPOSED",
            ErrorCode::CircuitOpen => "CIRCUIT_OPEN",
            ErrorCode::Locked => "LOCKED",
            ErrorCode::Busy => "BUSY",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Io => "IO",
            ErrorCode::Corrupt => "CORRUPT",
            ErrorCode::IncompatibleSchema => "INCOMPATIBLE_SCHEMA",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::LoadFailed => "LOAD_FAILED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    pub fn category(self) -> Category {
        use ErrorCode::*;
        match self {
            InvalidArgument | InvalidKey | InvalidValue => Category::Validation,
            ValueTooLarge | BatchTooLarge | QueueFull | QuotaExceeded => Category::Capacity,
            Disposed | Unsupported | LoadFailed => Category::Lifecycle,
            CircuitOpen | Locked | Busy => Category::Concurrency,
            Timeout => Category::Timeout,
            Io => Category::Storage,
            Corrupt | IncompatibleSchema => Category::Corruption,
            Internal => Category::Internal,
        }
    }

    /// Whether the same call, unchanged, may succeed later.
    pub fn retryable(self) -> bool {
        use ErrorCode::*;
        matches!(self, QueueFull | CircuitOpen | Locked | Busy | Timeout | Io | LoadFailed)
    }

    pub fn recovery_action(self) -> RecoveryAction {
        use ErrorCode::*;
        match self {
            InvalidArgument | InvalidKey | InvalidValue | ValueTooLarge | BatchTooLarge => {
                RecoveryAction::FixInput
            }
            QueueFull | CircuitOpen | Locked => RecoveryAction::Wait,
            Busy | Timeout | Io | LoadFailed => RecoveryAction::Retry,
            QuotaExceeded => RecoveryAction::FreeSpace,
            Disposed | Internal => RecoveryAction::Reopen,
            Corrupt => RecoveryAction::ResetDatabase,
            IncompatibleSchema | Unsupported => RecoveryAction::None,
        }
    }

    /// A sentence fit to show an end user.
    pub fn user_message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidArgument => "The request was not valid.",
            InvalidKey => "The item's name is not valid.",
            InvalidValue => "The data could not be saved because it is not in a storable form.",
            ValueTooLarge => "The data is too large to be saved.",
            BatchTooLarge => "Too many items were sent at once.",
            QueueFull => "The storage is busy right now. Please try again in a moment.",
            QuotaExceeded => "The device is out of storage space. Free some space and try again.",
            Disposed => "The storage has been closed. Reload to continue.",
            CircuitOpen => "Storage is temporarily unavailable. Please try again shortly.",
            Locked => "The data is in use elsewhere (another tab or window). Close it and try again.",
            Busy => "The storage is busy. Please try again.",
            Timeout => "The operation took too long and was cancelled. Please try again.",
            Io => "The data could not be read or written. Please try again.",
            Corrupt => "The saved data is damaged and has to be reset.",
            IncompatibleSchema => "The saved data was created by a different version and cannot be opened.",
            Unsupported => "This browser or environment does not support the required storage.",
            LoadFailed => "The storage could not be loaded. Please check your connection and try again.",
            Internal => "Something went wrong. Please reload and try again.",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Validation => "VALIDATION",
            Category::Lifecycle => "LIFECYCLE",
            Category::Capacity => "CAPACITY",
            Category::Concurrency => "CONCURRENCY",
            Category::Timeout => "TIMEOUT",
            Category::Storage => "STORAGE",
            Category::Corruption => "CORRUPTION",
            Category::Internal => "INTERNAL",
        }
    }
}

impl RecoveryAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryAction::FixInput => "FIX_INPUT",
            RecoveryAction::Retry => "RETRY",
            RecoveryAction::Wait => "WAIT",
            RecoveryAction::Reopen => "REOPEN",
            RecoveryAction::FreeSpace => "FREE_SPACE",
            RecoveryAction::ResetDatabase => "RESET_DATABASE",
            RecoveryAction::None => "NONE",
        }
    }
}

/// Every failure larder reports. The message is for developers: it names the
/// key, option or batch index at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidKey(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    ValueTooLarge(String),
    #[error("{0}")]
    BatchTooLarge(String),
    #[error("{0}")]
    QueueFull(String),
    /// The disk or origin storage is full, found outside SQLite.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("the store has been disposed")]
    Disposed,
    #[error("{0}")]
    CircuitOpen(String),
    #[error("{0}")]
    Locked(String),
    /// A file another process (or another store of this one) owns: Node's
    /// ownership lock, whose user message speaks of a process, not a tab.
    #[error("{0}")]
    LockedByProcess(String),
    #[error("{0}")]
    Timeout(String),
    /// A read or write of the underlying storage failed outside SQLite.
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    IncompatibleSchema(String),
    #[error("{0}")]
    Unsupported(String),
    /// A failure reported by SQLite, classified by its result code.
    #[error("{message}")]
    Sqlite { code: ErrorCode, message: String, extended_code: i32 },
    /// Damage found by larder itself (a stored value that does not decode).
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    /// Whether the error says storage itself is in trouble (what the breaker
    /// counts). Invalid input, larder's own capacity limits, lifecycle and
    /// concurrency errors say nothing about it.
    pub fn is_storage_failure(&self) -> bool {
        let code = self.code();
        code == ErrorCode::QuotaExceeded
            || matches!(
                code.category(),
                Category::Storage | Category::Corruption | Category::Timeout | Category::Internal
            )
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            StorageError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            StorageError::InvalidKey(_) => ErrorCode::InvalidKey,
            StorageError::InvalidValue(_) => ErrorCode::InvalidValue,
            StorageError::ValueTooLarge(_) => ErrorCode::ValueTooLarge,
            StorageError::BatchTooLarge(_) => ErrorCode::BatchTooLarge,
            StorageError::QueueFull(_) => ErrorCode::QueueFull,
            StorageError::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            StorageError::Disposed => ErrorCode::Disposed,
            StorageError::CircuitOpen(_) => ErrorCode::CircuitOpen,
            StorageError::Locked(_) | StorageError::LockedByProcess(_) => ErrorCode::Locked,
            StorageError::Timeout(_) => ErrorCode::Timeout,
            StorageError::Io(_) => ErrorCode::Io,
            StorageError::IncompatibleSchema(_) => ErrorCode::IncompatibleSchema,
            StorageError::Unsupported(_) => ErrorCode::Unsupported,
            StorageError::Sqlite { code, .. } => *code,
            StorageError::Corrupt(_) => ErrorCode::Corrupt,
            StorageError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn category(&self) -> Category {
        self.code().category()
    }

    pub fn retryable(&self) -> bool {
        self.code().retryable()
    }

    pub fn recovery_action(&self) -> RecoveryAction {
        self.code().recovery_action()
    }

    pub fn user_message(&self) -> &'static str {
        match self {
            StorageError::LockedByProcess(_) => {
                "The data is in use by another program or process. Close it and try again."
            }
            _ => self.code().user_message(),
        }
    }

    /// The SQLite extended result code behind this error, if SQLite caused it.
    pub fn sqlite_code(&self) -> Option<i32> {
        match self {
            StorageError::Sqlite { extended_code, .. } => Some(*extended_code),
            _ => None,
        }
    }

    /// Classifies a SQLite extended result code.
    pub fn from_sqlite_code(extended_code: i32, detail: &str) -> StorageError {
        let code = classify_sqlite_code(extended_code);
        StorageError::Sqlite {
            code,
            message: format!("SQLite error {extended_code}: {detail}"),
            extended_code,
        }
    }
}

/// Maps a SQLite extended result code onto a larder code by its primary code
/// (the low byte), with the extended codes that need a different answer.
pub fn classify_sqlite_code(extended_code: i32) -> ErrorCode {
    use rusqlite::ffi;
    match extended_code {
        ffi::SQLITE_IOERR_NOMEM => return ErrorCode::Internal,
        ffi::SQLITE_CANTOPEN_ISDIR | ffi::SQLITE_CANTOPEN_FULLPATH => return ErrorCode::Io,
        _ => {}
    }
    match extended_code & 0xff {
        ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => ErrorCode::Busy,
        ffi::SQLITE_IOERR | ffi::SQLITE_CANTOPEN | ffi::SQLITE_READONLY | ffi::SQLITE_PROTOCOL => {
            ErrorCode::Io
        }
        ffi::SQLITE_FULL => ErrorCode::QuotaExceeded,
        ffi::SQLITE_CORRUPT | ffi::SQLITE_NOTADB => ErrorCode::Corrupt,
        ffi::SQLITE_TOOBIG => ErrorCode::ValueTooLarge,
        ffi::SQLITE_INTERRUPT => ErrorCode::Timeout,
        _ => ErrorCode::Internal,
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        match &error {
            rusqlite::Error::SqliteFailure(failure, detail) => StorageError::from_sqlite_code(
                failure.extended_code,
                detail.as_deref().unwrap_or(&failure.to_string()),
            ),
            // larder writes every column with the type its schema declares, so
            // a stored value of another type (or out of range, or text that is
            // not UTF-8) is damage SQLite's page checks let through.
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..) => {
                StorageError::Corrupt(format!("a stored row does not hold what larder wrote: {error}"))
            }
            other => StorageError::Internal(format!("SQLite binding error: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    #[test]
    fn every_code_has_the_documented_classification() {
        // (code, category, retryable, recovery) exactly as the table in the README.
        let table = [
            ("INVALID_ARGUMENT", "VALIDATION", false, "FIX_INPUT"),
            ("INVALID_KEY", "VALIDATION", false, "FIX_INPUT"),
            ("INVALID_VALUE", "VALIDATION", false, "FIX_INPUT"),
            ("VALUE_TOO_LARGE", "CAPACITY", false, "FIX_INPUT"),
            ("BATCH_TOO_LARGE", "CAPACITY", false, "FIX_INPUT"),
            ("QUEUE_FULL", "CAPACITY", true, "WAIT"),
            ("QUOTA_EXCEEDED", "CAPACITY", false, "FREE_SPACE"),
            ("DISPOSED", "LIFECYCLE", false, "REOPEN"),
            ("CIRCUIT_OPEN", "CONCURRENCY", true, "WAIT"),
            ("LOCKED", "CONCURRENCY", true, "WAIT"),
            ("BUSY", "CONCURRENCY", true, "RETRY"),
            ("TIMEOUT", "TIMEOUT", true, "RETRY"),
            ("IO", "STORAGE", true, "RETRY"),
            ("CORRUPT", "CORRUPTION", false, "RESET_DATABASE"),
            ("INCOMPATIBLE_SCHEMA", "CORRUPTION", false, "NONE"),
            ("UNSUPPORTED", "LIFECYCLE", false, "NONE"),
            ("LOAD_FAILED", "LIFECYCLE", true, "RETRY"),
            ("INTERNAL", "INTERNAL", false, "REOPEN"),
        ];
        assert_eq!(table.len(), ErrorCode::ALL.len());
        for (code, (name, category, retryable, action)) in ErrorCode::ALL.iter().zip(table) {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.category().as_str(), category, "{name}");
            assert_eq!(code.retryable(), retryable, "{name}");
            assert_eq!(code.recovery_action().as_str(), action, "{name}");
            assert!(code.user_message().ends_with('.'), "{name}");
        }
    }

    /// One row per case of the README's table: every primary result code,
    /// and the extended codes classified on their own.
    const SQLITE_CASES: [(i32, ErrorCode); 43] = [
        // SQLITE_BUSY*, SQLITE_LOCKED*: BUSY
        (ffi::SQLITE_BUSY, ErrorCode::Busy),
        (ffi::SQLITE_BUSY_SNAPSHOT, ErrorCode::Busy),
        (ffi::SQLITE_BUSY_RECOVERY, ErrorCode::Busy),
        (ffi::SQLITE_LOCKED, ErrorCode::Busy),
        (ffi::SQLITE_LOCKED_SHAREDCACHE, ErrorCode::Busy),
        // SQLITE_IOERR_* (but IOERR_NOMEM), CANTOPEN*, READONLY*, PROTOCOL: IO
        (ffi::SQLITE_IOERR, ErrorCode::Io),
        (ffi::SQLITE_IOERR_READ, ErrorCode::Io),
        (ffi::SQLITE_IOERR_SHORT_READ, ErrorCode::Io),
        (ffi::SQLITE_IOERR_WRITE, ErrorCode::Io),
        (ffi::SQLITE_IOERR_FSYNC, ErrorCode::Io),
        (ffi::SQLITE_IOERR_TRUNCATE, ErrorCode::Io),
        (ffi::SQLITE_IOERR_DELETE, ErrorCode::Io),
        (ffi::SQLITE_IOERR_LOCK, ErrorCode::Io),
        (ffi::SQLITE_CANTOPEN, ErrorCode::Io),
        (ffi::SQLITE_CANTOPEN_ISDIR, ErrorCode::Io),
        (ffi::SQLITE_CANTOPEN_FULLPATH, ErrorCode::Io),
        (ffi::SQLITE_READONLY, ErrorCode::Io),
        (ffi::SQLITE_READONLY_DBMOVED, ErrorCode::Io),
        (ffi::SQLITE_PROTOCOL, ErrorCode::Io),
        // SQLITE_IOERR_NOMEM, SQLITE_NOMEM: INTERNAL
        (ffi::SQLITE_IOERR_NOMEM, ErrorCode::Internal),
        (ffi::SQLITE_NOMEM, ErrorCode::Internal),
        // SQLITE_FULL: QUOTA_EXCEEDED
        (ffi::SQLITE_FULL, ErrorCode::QuotaExceeded),
        // SQLITE_CORRUPT*, SQLITE_NOTADB: CORRUPT
        (ffi::SQLITE_CORRUPT, ErrorCode::Corrupt),
        (ffi::SQLITE_CORRUPT_INDEX, ErrorCode::Corrupt),
        (ffi::SQLITE_NOTADB, ErrorCode::Corrupt),
        // SQLITE_TOOBIG: VALUE_TOO_LARGE
        (ffi::SQLITE_TOOBIG, ErrorCode::ValueTooLarge),
        // SQLITE_INTERRUPT: TIMEOUT
        (ffi::SQLITE_INTERRUPT, ErrorCode::Timeout),
        // SQLITE_CONSTRAINT*, MISMATCH, MISUSE and every other code: INTERNAL
        (ffi::SQLITE_CONSTRAINT, ErrorCode::Internal),
        (ffi::SQLITE_CONSTRAINT_PRIMARYKEY, ErrorCode::Internal),
        (ffi::SQLITE_CONSTRAINT_UNIQUE, ErrorCode::Internal),
        (ffi::SQLITE_MISMATCH, ErrorCode::Internal),
        (ffi::SQLITE_MISUSE, ErrorCode::Internal),
        (ffi::SQLITE_ERROR, ErrorCode::Internal),
        (ffi::SQLITE_INTERNAL, ErrorCode::Internal),
        (ffi::SQLITE_PERM, ErrorCode::Internal),
        (ffi::SQLITE_ABORT, ErrorCode::Internal),
        (ffi::SQLITE_NOTFOUND, ErrorCode::Internal),
        (ffi::SQLITE_EMPTY, ErrorCode::Internal),
        (ffi::SQLITE_SCHEMA, ErrorCode::Internal),
        (ffi::SQLITE_NOLFS, ErrorCode::Internal),
        (ffi::SQLITE_AUTH, ErrorCode::Internal),
        (ffi::SQLITE_FORMAT, ErrorCode::Internal),
        (ffi::SQLITE_RANGE, ErrorCode::Internal),
    ];

    #[test]
    fn sqlite_codes_are_classified_and_kept() {
        for (sqlite, expected) in SQLITE_CASES {
            let error = StorageError::from_sqlite_code(sqlite, "detail");
            assert_eq!(error.code(), expected, "sqlite code {sqlite}");
            assert_eq!(error.sqlite_code(), Some(sqlite));
        }
    }

    #[test]
    fn a_stored_value_of_the_wrong_type_is_corruption() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t(n INTEGER, b BLOB); INSERT INTO t VALUES ('text', -1);").unwrap();
        let read = |sql: &str| -> StorageError {
            conn.query_row(sql, [], |row| row.get::<_, u64>(0)).unwrap_err().into()
        };
        // a text where an integer was written; a negative size
        assert_eq!(read("SELECT n FROM t").code(), ErrorCode::Corrupt);
        assert_eq!(read("SELECT b FROM t").code(), ErrorCode::Corrupt);
        let bytes: StorageError =
            conn.query_row("SELECT n FROM t", [], |row| row.get::<_, Vec<u8>>(0)).unwrap_err().into();
        assert_eq!(bytes.code(), ErrorCode::Corrupt);
        let text: StorageError = conn
            .query_row("SELECT CAST(x'ff' AS TEXT)", [], |row| row.get::<_, String>(0))
            .unwrap_err()
            .into();
        assert_eq!(text.code(), ErrorCode::Corrupt);
    }

    #[test]
    fn rusqlite_errors_keep_their_extended_code() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t(k PRIMARY KEY); INSERT INTO t VALUES (1);").unwrap();
        let error: StorageError = conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err().into();
        assert_eq!(error.sqlite_code(), Some(ffi::SQLITE_CONSTRAINT_PRIMARYKEY));
        assert_eq!(error.code(), ErrorCode::Internal);
    }
}
