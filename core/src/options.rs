//! The store's options: their defaults and the rules each value must meet.
//! Reading them from a JS object is the boundary's job (`api::convert`); every
//! check here names the option at fault.

use crate::error::{Result, StorageError};

/// Largest integer a JS number holds exactly; the ceiling for TTLs and sizes.
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
/// SQLite's default `SQLITE_MAX_LENGTH`: no value can be larger.
pub const MAX_VALUE_BYTES_CEILING: usize = 1_000_000_000;

/// Every option name `openStorage` accepts.
pub const OPTION_NAMES: [&str; 18] = [
    "path",
    "maxSizeBytes",
    "defaultTtlMs",
    "maxBatchSize",
    "maxKeyBytes",
    "maxValueBytes",
    "maxQueueLength",
    "operationTimeoutMs",
    "durability",
    "breaker",
    "retry",
    "clock",
    "fs",
    // Checked by the facade, which does the counting and tracing they set.
    "slowOperationMs",
    "healthThresholds",
    "trace",
    // Where the browser entry finds its own files; the facade checks their values.
    "wasmUrl",
    "workerUrl",
];
pub const BREAKER_OPTION_NAMES: [&str; 2] = ["failureThreshold", "recoveryTimeoutMs"];
pub const RETRY_OPTION_NAMES: [&str; 3] = ["maxAttempts", "baseDelayMs", "maxDelayMs"];

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoragePath {
    /// `":memory:"`: nothing persists.
    Memory,
    /// `":temp:"`: a fresh private file, deleted on dispose.
    Temp,
    /// A file path (Node) or an OPFS name (browser).
    File(String),
}

impl StoragePath {
    pub fn parse(path: &str) -> Result<StoragePath> {
        match path {
            "" => Err(StorageError::InvalidArgument("option path must not be empty".into())),
            ":memory:" => Ok(StoragePath::Memory),
            ":temp:" => Ok(StoragePath::Temp),
            _ if path.contains('\0') => {
                Err(StorageError::InvalidArgument("option path must not contain a NUL character".into()))
            }
            _ => Ok(StoragePath::File(path.to_owned())),
        }
    }
}

/// How long an entry lives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ttl {
    /// `Infinity`: never expires, whatever `defaultTtlMs` says.
    Forever,
    /// Expires this many milliseconds after it is written.
    Millis(f64),
}

impl Ttl {
    /// `ttlMs` and `defaultTtlMs`: a positive number up to 2^53, or `Infinity`.
    pub fn parse(name: &str, value: f64) -> Result<Ttl> {
        if value == f64::INFINITY {
            return Ok(Ttl::Forever);
        }
        if value.is_nan() || value <= 0.0 || value > MAX_SAFE_INTEGER + 1.0 {
            return Err(StorageError::InvalidArgument(format!(
                "{name} must be a positive number of milliseconds (at most 2^53) or Infinity, got {value}"
            )));
        }
        Ok(Ttl::Millis(value))
    }

    /// The absolute expiry time of an entry written at `now_ms`, in whole
    /// milliseconds of the store's clock; `None` when it never expires.
    pub fn expires_at(self, now_ms: i64) -> Option<i64> {
        match self {
            Ttl::Forever => None,
            Ttl::Millis(ms) => Some(now_ms.saturating_add(ms.ceil() as i64)),
        }
    }
}

/// What a write must survive before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// A process crash and a power loss.
    Full,
    /// A process crash.
    Normal,
}

impl Durability {
    pub fn parse(value: &str) -> Result<Durability> {
        match value {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            other => Err(StorageError::InvalidArgument(format!(
                "option durability must be \"full\" or \"normal\", got {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreakerOptions {
    pub failure_threshold: u32,
    pub recovery_timeout_ms: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryOptions {
    pub max_attempts: u32,
    pub base_delay_ms: f64,
    pub max_delay_ms: f64,
}

/// The validated options of one store (all but the host objects `clock` and
/// `fs`, which the boundary keeps).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreOptions {
    pub path: StoragePath,
    pub max_size_bytes: Option<u64>,
    pub default_ttl: Option<Ttl>,
    pub max_batch_size: usize,
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub max_queue_length: usize,
    /// `None`: operations never time out (`Infinity`).
    pub operation_timeout_ms: Option<f64>,
    pub durability: Durability,
    pub breaker: BreakerOptions,
    pub retry: RetryOptions,
    /// Not an option of `openStorage`: how many entries are read before a
    /// write persists their recency (see `accounting::Recency`); tests lower it.
    pub reads_persisted_at: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            path: StoragePath::Memory,
            max_size_bytes: None,
            default_ttl: None,
            max_batch_size: 10_000,
            max_key_bytes: 1024,
            max_value_bytes: 16 * 1024 * 1024,
            max_queue_length: 10_000,
            operation_timeout_ms: Some(30_000.0),
            durability: Durability::Full,
            breaker: BreakerOptions { failure_threshold: 5, recovery_timeout_ms: 30_000.0 },
            retry: RetryOptions { max_attempts: 3, base_delay_ms: 20.0, max_delay_ms: 1000.0 },
            reads_persisted_at: crate::accounting::READS_PERSISTED_AT,
        }
    }
}

/// A positive integer no larger than `ceiling`.
pub fn positive_integer(name: &str, value: f64, ceiling: f64) -> Result<u64> {
    if value.fract() != 0.0 || value < 1.0 || value > ceiling {
        return Err(StorageError::InvalidArgument(format!(
            "{name} must be a positive integer no larger than {ceiling}, got {value}"
        )));
    }
    Ok(value as u64)
}

/// A finite number of milliseconds, zero or more.
pub fn non_negative_ms(name: &str, value: f64) -> Result<f64> {
    if !value.is_finite() || value < 0.0 {
        return Err(StorageError::InvalidArgument(format!(
            "{name} must be a finite number of milliseconds, zero or more, got {value}"
        )));
    }
    Ok(value)
}

/// `operationTimeoutMs`: a positive number of milliseconds, or `Infinity`.
pub fn operation_timeout(value: f64) -> Result<Option<f64>> {
    if value == f64::INFINITY {
        return Ok(None);
    }
    if !value.is_finite() || value <= 0.0 {
        return Err(StorageError::InvalidArgument(format!(
            "option operationTimeoutMs must be a positive number of milliseconds or Infinity, got {value}"
        )));
    }
    Ok(Some(value))
}

impl RetryOptions {
    /// Checks the relation between the fields, once all are read.
    pub fn check(&self) -> Result<()> {
        if self.max_delay_ms < self.base_delay_ms {
            return Err(StorageError::InvalidArgument(format!(
                "option retry.maxDelayMs ({}) must not be less than retry.baseDelayMs ({})",
                self.max_delay_ms, self.base_delay_ms
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn ttl_rules() {
        assert_eq!(Ttl::parse("ttlMs", f64::INFINITY).unwrap(), Ttl::Forever);
        assert_eq!(Ttl::parse("ttlMs", 0.5).unwrap(), Ttl::Millis(0.5));
        assert_eq!(Ttl::parse("ttlMs", 2f64.powi(53)).unwrap(), Ttl::Millis(2f64.powi(53)));
        for bad in [0.0, -1.0, f64::NAN, f64::NEG_INFINITY, 2f64.powi(53) + 2.0] {
            let error = Ttl::parse("ttlMs", bad).unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidArgument, "{bad}");
            assert!(error.to_string().contains("ttlMs"));
        }
        assert_eq!(Ttl::Millis(0.5).expires_at(1000), Some(1001));
        assert_eq!(Ttl::Millis(10.0).expires_at(1000), Some(1010));
        assert_eq!(Ttl::Forever.expires_at(1000), None);
    }

    #[test]
    fn paths_durability_and_numbers() {
        assert_eq!(StoragePath::parse(":memory:").unwrap(), StoragePath::Memory);
        assert_eq!(StoragePath::parse(":temp:").unwrap(), StoragePath::Temp);
        assert_eq!(StoragePath::parse("a/b.sqlite").unwrap(), StoragePath::File("a/b.sqlite".into()));
        assert!(StoragePath::parse("").is_err());
        assert!(StoragePath::parse("a\0b").is_err());
        assert_eq!(Durability::parse("normal").unwrap(), Durability::Normal);
        assert!(Durability::parse("FULL").is_err());
        assert_eq!(positive_integer("maxBatchSize", 3.0, 10.0).unwrap(), 3);
        for bad in [0.0, 1.5, -2.0, 11.0, f64::NAN, f64::INFINITY] {
            assert!(positive_integer("maxBatchSize", bad, 10.0).is_err(), "{bad}");
        }
        assert_eq!(operation_timeout(f64::INFINITY).unwrap(), None);
        assert!(operation_timeout(0.0).is_err());
        assert!(non_negative_ms("x", -1.0).is_err());
        let retry = RetryOptions { max_attempts: 3, base_delay_ms: 50.0, max_delay_ms: 10.0 };
        assert!(retry.check().unwrap_err().to_string().contains("retry.maxDelayMs"));
    }
}
