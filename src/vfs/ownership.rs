//! Exclusive ownership of a database file across processes: a lock file
//! beside it (`<path>.lock`) created with `O_EXCL`, holding the owner's pid.
//! A second store, in this process or another, finds it and gets `LOCKED`;
//! a lock whose process has died is taken over; `release` removes it.

use std::rc::Rc;

use super::node_host::{FsError, NodeHost};
use crate::error::{Result, StorageError};

/// An empty lock file older than this was left by an opener that died
/// between creating it and writing its pid (microseconds apart).
const STALE_EMPTY_LOCK_MS: f64 = 2_000.0;

pub struct OwnershipLock {
    host: Rc<NodeHost>,
    path: String,
}

/// A failed lock-file call: a full disk is QUOTA_EXCEEDED, anything else IO.
fn fs_error(what: &str, path: &str, error: FsError) -> StorageError {
    let message = format!("{what} {path}: {error}");
    if error.is_full() {
        StorageError::QuotaExceeded(message)
    } else {
        StorageError::Io(message)
    }
}

/// Who holds an existing lock file.
enum Holder {
    Alive(f64),
    /// Its process died, or it died while creating the file.
    Gone,
    /// Created but not yet written: its owner is opening right now.
    Opening,
}

impl OwnershipLock {
    /// Takes the lock for the database at `db_path` (absolute).
    pub fn acquire(host: Rc<NodeHost>, db_path: &str) -> Result<OwnershipLock> {
        let path = format!("{db_path}.lock");
        let flags = host.flags.write_only | host.flags.create | host.flags.exclusive;
        // Two passes: the second follows the removal of a dead owner's lock.
        for _ in 0..2 {
            let error = match host.open(&path, flags) {
                Ok(fd) => {
                    let written = host.write_at(fd, host.pid.to_string().as_bytes(), 0);
                    let closed = host.close(fd);
                    if let Err(error) = written.and(closed) {
                        let _ = host.unlink(&path);
                        return Err(fs_error("cannot write the lock file", &path, error));
                    }
                    return Ok(OwnershipLock { host, path });
                }
                Err(error) => error,
            };
            if !error.is("EEXIST") {
                return Err(fs_error("cannot create the lock file", &path, error));
            }
            match holder(&host, &path) {
                Holder::Alive(pid) => {
                    return Err(StorageError::Locked(format!(
                        "{db_path} is held by another store (process {pid}; lock file {path})"
                    )))
                }
                Holder::Opening => {
                    return Err(StorageError::Locked(format!("{db_path} is being opened by another store")))
                }
                Holder::Gone => match host.unlink(&path) {
                    Ok(()) => {}
                    Err(error) if error.is("ENOENT") => {}
                    Err(error) => return Err(fs_error("cannot remove the stale lock", &path, error)),
                },
            }
        }
        Err(StorageError::Locked(format!(
            "{db_path}: another store took the lock as this one took over a stale one"
        )))
    }

    /// Removes the lock file if it is still this process's.
    pub fn release(self) {
        if owner_pid(&self.host, &self.path) == Some(self.host.pid) {
            let _ = self.host.unlink(&self.path);
        }
    }
}

fn owner_pid(host: &NodeHost, path: &str) -> Option<f64> {
    host.read_text(path).ok().and_then(|text| text.trim().parse::<f64>().ok())
}

fn holder(host: &NodeHost, path: &str) -> Holder {
    match owner_pid(host, path) {
        Some(pid) if host.is_process_alive(pid) => Holder::Alive(pid),
        Some(_) => Holder::Gone,
        None if host.modified_within(path, STALE_EMPTY_LOCK_MS) => Holder::Opening,
        None => Holder::Gone,
    }
}
