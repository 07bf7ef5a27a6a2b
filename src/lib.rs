//! larder: a durable key/value cache on SQLite, compiled to WebAssembly.
//!
//! The core (`queue`, `engine`, `store`, `schema`, `cache`, `codec`, `error`,
//! `options`, `clock`) is plain Rust; `api` is the only wasm-bindgen surface.
//! README.md (Layout) maps the modules.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::all)]

pub mod api;
pub mod breaker;
pub mod cache;
pub mod clock;
pub mod codec;
pub mod deadline;
pub mod engine;
pub mod error;
pub mod footprint;
pub mod options;
pub mod queue;
pub mod reflect;
pub mod retry;
pub mod schema;
pub mod store;
pub mod vfs;

pub use error::{Category, ErrorCode, RecoveryAction, StorageError};

/// Test builds only: a key whose `get` panics while validating the call.
#[cfg(feature = "test-hooks")]
pub const PANIC_IN_CALL: &str = "larder:test-hooks:panic-in-call";
/// Test builds only: a key whose `get` panics when the queue runs it.
#[cfg(feature = "test-hooks")]
pub const PANIC_IN_OPERATION: &str = "larder:test-hooks:panic-in-operation";
/// Test builds only: a file path containing this makes the open panic once
/// the file is open and owned (its descriptors and lock taken).
#[cfg(feature = "test-hooks")]
pub const PANIC_IN_OPEN: &str = "larder:test-hooks:panic-in-open";
