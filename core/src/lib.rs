//! larder's core: everything a store does, in plain Rust, with no JavaScript
//! in it. The wasm crate (`larder`) turns JS calls into `Operation`s, hands
//! the engine an open `Database`, a `Clock` and a `Random`, and turns
//! `Output`s back into values. Its unit tests run natively: `cargo test -p
//! larder-core`. ARCHITECTURE.md maps both crates.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::all)]

// The operation layer: what can be asked, in what order it runs.
/// A store's queue and its runs: admission, retries, group commit, dispose.
pub mod engine;
/// Every kind of call as an `Operation`, its name, its `Output`, its dispatch.
pub mod operation;
/// The bounded FIFO of operations waiting their turn.
mod queue;

pub mod metrics;
/// What a traced operation's caller is told of its run.
pub mod trace;

// Resilience around each run.
/// The circuit breaker: closed, open, half-open.
mod breaker;
/// `operationTimeoutMs` inside SQLite: interrupting a statement that overruns.
mod deadline;
/// Backoff with full jitter for transient failures.
pub mod retry;

// The SQLite side.
/// Entry sizes, the budget check, per-namespace ledgers, LRU recency.
mod accounting;
/// The connection a store is handed and what backs it.
pub mod database;
/// Keeping the file and its WAL in proportion to what is stored.
mod footprint;
/// The DDL, recognising a larder file, and readying a fresh connection.
mod schema;
/// The entries table: the operations, the unit of work, purge and eviction.
pub mod store;

// Shared vocabulary.
/// Time and timers, injected: `Clock`, and `ManualClock` for tests.
pub mod clock;
/// `StorageError`, its codes, categories and recovery actions.
pub mod error;
/// Validated store options and their defaults and limits.
pub mod options;
/// A value in its stored form.
pub mod value;

pub use error::{Category, ErrorCode, RecoveryAction, StorageError};

/// Internals for this crate's own integration tests (`tests/`), not an API.
#[doc(hidden)]
pub mod testing {
    /// How much one write purges and one eviction query reads: the model test
    /// must reach past both.
    pub use crate::store::eviction::LAZY_PURGE_LIMIT;
    pub use crate::store::lru_order::EVICTION_BATCH;
}

/// Test builds only: a key whose `get` panics when the queue runs it.
#[cfg(feature = "test-hooks")]
pub const PANIC_IN_OPERATION: &str = "larder:test-hooks:panic-in-operation";
