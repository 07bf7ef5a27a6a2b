//! larder's WebAssembly crate: the boundary between JS and the core. It
//! reads and checks JS values, encodes them, opens databases where they live
//! (memory, a Node file, OPFS), and hands calls to `larder_core`, which does
//! everything else and knows no JS. ARCHITECTURE.md maps both crates.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::all)]

// The core's modules, under the names the boundary uses.
use larder_core::{clock, engine, error, operation, options, retry, store, value};

/// The allocator: dlmalloc over a memory grown in large steps.
#[cfg(target_arch = "wasm32")]
mod allocator;
/// The `#[wasm_bindgen]` exports: `openStore`, `NativeStore` and `limits`.
mod api;
/// JS values to stored values, and key checks.
mod codec;
/// `Date.now`, `setTimeout` and `Math.random` for the core.
mod js_time;
/// Reading JS objects without running their code.
mod reflect;
/// Stored values as they cross back to JS: JSON text, bytes, flat batches.
mod stored;
/// Where databases live: sqlite-wasm-rs's memory VFS, Node files, OPFS.
mod vfs;

pub use error::{Category, ErrorCode, RecoveryAction, StorageError};

/// Internals for this crate's own integration tests (`tests/`), not an API.
#[doc(hidden)]
pub mod testing {
    pub use crate::api::{open_store, NativeStore};
}

/// Test builds only: a key whose `get` panics while validating the call.
#[cfg(feature = "test-hooks")]
pub const PANIC_IN_CALL: &str = "larder:test-hooks:panic-in-call";
/// Test builds only: a file path containing this makes the open panic once
/// the file is open and owned (its descriptors and lock taken).
#[cfg(feature = "test-hooks")]
pub const PANIC_IN_OPEN: &str = "larder:test-hooks:panic-in-open";
