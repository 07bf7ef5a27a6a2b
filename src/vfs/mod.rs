//! Where a store's database lives. `":memory:"` uses sqlite-wasm-rs's memory
//! VFS; in Node, files go through `NodeFileVfs` and the host's `fs`
//! functions; in a browser worker, through OPFS. A `Database` is the open
//! connection with whatever must be released after it closes.

pub mod node_file;
pub mod node_host;
pub mod opfs;

#[cfg(test)]
mod node_tests;

use std::rc::Rc;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StorageError};
use crate::options::StoragePath;
use node_file::NodeFileVfs;
use node_host::{HostLock, NodeHost};
use opfs::OpfsDatabase;

pub struct Database {
    pub conn: Connection,
    backing: Backing,
}

enum Backing {
    Memory,
    NodeFile(FileDatabase),
    Opfs(OpfsDatabase),
}

impl Database {
    pub fn in_memory() -> Result<Database> {
        Ok(Database { conn: Connection::open_in_memory()?, backing: Backing::Memory })
    }

    /// Opens the database at `path`: a file in Node (given its host), OPFS
    /// otherwise. A file database is owned exclusively until `close`.
    pub async fn open(path: &StoragePath, host: Option<Rc<NodeHost>>) -> Result<Database> {
        let name = match path {
            StoragePath::Memory => return Database::in_memory(),
            StoragePath::Temp => None,
            StoragePath::File(path) => Some(path.as_str()),
        };
        match host {
            Some(host) => {
                let file = FileDatabase::acquire(host, name).await?;
                Database::connect(&file.path.clone(), file.vfs.name().to_owned(), Backing::NodeFile(file))
            }
            None => {
                let opfs = OpfsDatabase::open(name).await?;
                let vfs_name = opfs.vfs_name().to_owned();
                Database::connect(opfs::DB_FILE, vfs_name, Backing::Opfs(opfs))
            }
        }
    }

    fn connect(path: &str, vfs_name: String, backing: Backing) -> Result<Database> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        match Connection::open_with_flags_and_vfs(path, flags, vfs_name.as_str()) {
            Ok(conn) => Ok(Database { conn, backing }),
            Err(error) => {
                backing.release();
                Err(error.into())
            }
        }
    }

    /// Whether the database is a file (on disk or in OPFS), not memory.
    pub fn is_file(&self) -> bool {
        !matches!(self.backing, Backing::Memory)
    }

    /// Before each operation: that the file is still this store's (see
    /// `confirm` in js/ownership.ts).
    pub fn confirm_owned(&self) -> Result<()> {
        match &self.backing {
            Backing::NodeFile(file) => file.lock.confirm(),
            Backing::Memory | Backing::Opfs(_) => Ok(()),
        }
    }

    /// Closes the connection, then releases what backs it.
    pub fn close(self) -> Result<()> {
        let closed = self.conn.close().map_err(|(_, error)| StorageError::from(error));
        self.backing.release();
        closed
    }
}

impl Backing {
    fn release(self) {
        match self {
            Backing::Memory => {}
            Backing::NodeFile(file) => file.release(),
            Backing::Opfs(opfs) => opfs.close(),
        }
    }
}

/// The files SQLite keeps beside a database in WAL mode or after a crash.
const COMPANION_SUFFIXES: [&str; 2] = ["-wal", "-journal"];

/// A database file in Node, owned by one store.
struct FileDatabase {
    host: Rc<NodeHost>,
    path: String,
    /// Unregistered on drop, after the connection has closed.
    vfs: NodeFileVfs,
    lock: HostLock,
    /// A `":temp:"` database, deleted with its companions on release.
    temporary: bool,
}

impl FileDatabase {
    /// Takes ownership of the file at `path` (or a fresh temp path), creating
    /// its directory if missing, and registers a VFS for it.
    async fn acquire(host: Rc<NodeHost>, path: Option<&str>) -> Result<FileDatabase> {
        let temporary = path.is_none();
        let path = host.resolve_path(&path.map_or_else(|| host.temp_path(), str::to_owned));
        let dir = host.dirname(&path);
        host.make_dirs(&dir).map_err(|error| {
            let message = format!("cannot create the directory {dir}: {error}");
            if error.is_full() {
                StorageError::QuotaExceeded(message)
            } else {
                StorageError::Io(message)
            }
        })?;
        let lock = host.acquire_lock(&path).await?;
        match NodeFileVfs::register(host.clone()) {
            Ok(vfs) => Ok(FileDatabase { host, path, vfs, lock, temporary }),
            Err(error) => {
                lock.release();
                Err(StorageError::Internal(format!("cannot register the file VFS: {error}")))
            }
        }
    }

    /// Deletes a temporary file with its companions, then drops the lock and
    /// the VFS. Call after the connection has closed.
    fn release(self) {
        if self.temporary {
            for suffix in [""].into_iter().chain(COMPANION_SUFFIXES) {
                let _ = self.host.unlink(&format!("{}{suffix}", self.path));
            }
        }
        self.lock.release();
    }
}
