//! larder: a durable key/value cache on SQLite, compiled to WebAssembly.
//!
//! The core (`queue`, `engine`, `store`, `schema`, `cache`, `codec`, `error`,
//! `options`, `clock`) is plain Rust; `api` is the only wasm-bindgen surface.
//! See DESIGN.md in the project's shared folder for the architecture.

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
pub mod flight;
pub mod options;
pub mod queue;
pub mod reflect;
pub mod retry;
pub mod schema;
pub mod store;
pub mod vfs;

pub use error::{Category, ErrorCode, RecoveryAction, StorageError};
