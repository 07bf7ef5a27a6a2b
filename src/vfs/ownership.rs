//! Exclusive ownership of a database file across processes: a lock file
//! beside it (`<path>.lock`) created with `O_EXCL`, holding the owner's pid.
//! A second store, in this process or another, finds it and gets `LOCKED`;
//! a lock whose process has died is taken over; `release` removes it.

use std::rc::Rc;

use super::node_host::NodeHost;
use crate::error::{Result, StorageError};

pub struct OwnershipLock {
    host: Rc<NodeHost>,
    path: String,
}

fn io_error(what: &str, path: &str, error: impl std::fmt::Display) -> StorageError {
    StorageError::Io(format!("{what} {path}: {error}"))
}

impl OwnershipLock {
    /// Takes the lock for the database at `db_path` (absolute).
    pub fn acquire(host: Rc<NodeHost>, db_path: &str) -> Result<OwnershipLock> {
        let path = format!("{db_path}.lock");
        let flags = host.flags.write_only | host.flags.create | host.flags.exclusive;
        // Two passes: the second follows the removal of a dead owner's lock.
        for _ in 0..2 {
            match host.open(&path, flags) {
                Ok(fd) => {
                    let pid = host.pid.to_string();
                    let written = host.write_at(fd, pid.as_bytes(), 0);
                    let closed = host.close(fd);
                    if let Err(error) = written.and(closed) {
                        let _ = host.unlink(&path);
                        return Err(io_error("cannot write the lock file", &path, error));
                    }
                    return Ok(OwnershipLock { host, path });
                }
                Err(error) if error.is("EEXIST") => {
                    let owner = host.read_text(&path).ok().and_then(|text| text.trim().parse::<f64>().ok());
                    match owner {
                        Some(pid) if !host.is_process_alive(pid) => {
                            // The owner died without releasing it: take it over.
                            match host.unlink(&path) {
                                Ok(()) => continue,
                                Err(error) if error.is("ENOENT") => continue,
                                Err(error) => {
                                    return Err(io_error("cannot remove the stale lock", &path, error))
                                }
                            }
                        }
                        Some(pid) => {
                            return Err(StorageError::Locked(format!(
                                "{db_path} is held by another store (process {pid}; lock file {path})"
                            )))
                        }
                        // Created but not yet written: its owner is opening right now.
                        None => {
                            return Err(StorageError::Locked(format!(
                                "{db_path} is being opened by another store"
                            )))
                        }
                    }
                }
                Err(error) if error.is_full() => {
                    return Err(StorageError::QuotaExceeded(format!(
                        "cannot create the lock file {path}: {error}"
                    )))
                }
                Err(error) => return Err(io_error("cannot create the lock file", &path, error)),
            }
        }
        Err(StorageError::Locked(format!(
            "{db_path}: another store took the lock as this one took over a stale one"
        )))
    }

    /// Removes the lock file if it is still this process's.
    pub fn release(self) {
        let ours = self.host.read_text(&self.path).ok().and_then(|text| text.trim().parse::<f64>().ok());
        if ours == Some(self.host.pid) {
            let _ = self.host.unlink(&self.path);
        }
    }
}
