//! Storage backends below SQLite. `":memory:"` uses sqlite-wasm-rs's memory
//! VFS; files in Node use `NodeFileVfs` through the host's `fs` functions.

pub mod node_file;
pub mod node_host;
pub mod ownership;

use std::rc::Rc;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StorageError};
use node_file::NodeFileVfs;
use node_host::NodeHost;
use ownership::OwnershipLock;

/// The files SQLite keeps beside a database in WAL mode or after a crash.
const COMPANION_SUFFIXES: [&str; 2] = ["-wal", "-journal"];

/// A database file a store has open: what must outlive its connection and be
/// released after it closes.
pub struct FileDatabase {
    host: Rc<NodeHost>,
    path: String,
    /// Unregistered on drop, after the connection has closed.
    _vfs: NodeFileVfs,
    lock: OwnershipLock,
    /// A `":temp:"` database, deleted with its companions on close.
    temporary: bool,
}

impl FileDatabase {
    /// Takes ownership of the file at `path` (or a fresh temp path) and opens
    /// a connection to it, creating the file and its directory if missing.
    pub fn open(host: Rc<NodeHost>, path: Option<&str>) -> Result<(Connection, FileDatabase)> {
        let temporary = path.is_none();
        let path = host.resolve_path(&path.map_or_else(|| host.temp_path(), str::to_owned));
        let dir = host.dirname(&path);
        host.make_dirs(&dir).map_err(|error| match error.is_full() {
            true => StorageError::QuotaExceeded(format!("cannot create the directory {dir}: {error}")),
            false => StorageError::Io(format!("cannot create the directory {dir}: {error}")),
        })?;
        let lock = OwnershipLock::acquire(host.clone(), &path)?;
        let vfs = match NodeFileVfs::register(host.clone()) {
            Ok(vfs) => vfs,
            Err(error) => {
                lock.release();
                return Err(StorageError::Internal(format!("cannot register the file VFS: {error}")));
            }
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let database = FileDatabase { host, path, _vfs: vfs, lock, temporary };
        match Connection::open_with_flags_and_vfs(&database.path, flags, database._vfs.name()) {
            Ok(conn) => Ok((conn, database)),
            Err(error) => {
                database.close();
                Err(error.into())
            }
        }
    }

    /// Releases the file: deletes it if temporary, then drops the lock.
    /// Call after the connection has closed.
    pub fn close(self) {
        if self.temporary {
            for suffix in [""].into_iter().chain(COMPANION_SUFFIXES) {
                let _ = self.host.unlink(&format!("{}{suffix}", self.path));
            }
        }
        self.lock.release();
    }
}
