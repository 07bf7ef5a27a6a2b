//! Where a store's database lives. `":memory:"` uses sqlite-wasm-rs's memory
//! VFS; in Node, files go through `NodeFileVfs` and the host's `fs`
//! functions; in a browser worker, through OPFS. Each hands the core a
//! `Database`: the open connection with a `Backing` to release after it.

mod disk_file;
mod joined_writes;
pub mod node_file;
pub mod node_host;
pub mod opfs;
mod write_buffer;

#[cfg(test)]
mod node_tests;

use std::rc::Rc;

use rusqlite::{Connection, OpenFlags};

use larder_core::database::{Backing, Database};
use larder_core::error::{Result, StorageError};
use larder_core::options::StoragePath;
use node_file::NodeFileVfs;
use node_host::{HostLock, NodeHost};
use opfs::OpfsDatabase;

/// Opens the database at `path`: memory, a file in Node (given its host),
/// OPFS otherwise. A file database is owned exclusively until it closes.
pub async fn open(path: &StoragePath, host: Option<Rc<NodeHost>>) -> Result<Database> {
    let name = match path {
        StoragePath::Memory => return Database::in_memory(),
        StoragePath::Temp => None,
        StoragePath::File(path) => Some(path.as_str()),
    };
    match host {
        Some(host) => {
            let file = FileDatabase::acquire(host, name).await?;
            let (path, vfs_name) = (file.path.clone(), file.vfs.name().to_owned());
            Database::over(connect(&path, &vfs_name), Box::new(file))
        }
        None => {
            let opfs = OpfsDatabase::open(name).await?;
            let vfs_name = opfs.vfs_name().to_owned();
            Database::over(connect(opfs::DB_FILE, &vfs_name), Box::new(opfs))
        }
    }
}

fn connect(path: &str, vfs_name: &str) -> rusqlite::Result<Connection> {
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags_and_vfs(path, flags, vfs_name)
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
        host.make_dirs(&dir)
            .map_err(|error| error.storage_error(format!("cannot create the directory {dir}: {error}")))?;
        let lock = host.acquire_lock(&path).await?;
        match NodeFileVfs::register(host.clone()) {
            Ok(vfs) => Ok(FileDatabase { host, path, vfs, lock, temporary }),
            Err(error) => {
                lock.release();
                Err(StorageError::Internal(format!("cannot register the file VFS: {error}")))
            }
        }
    }
}

impl Backing for FileDatabase {
    fn is_file(&self) -> bool {
        true
    }

    /// See `confirm` in js/ownership.ts.
    fn confirm_owned(&self) -> Result<()> {
        self.lock.confirm()
    }

    /// Deletes a temporary file with its companions, then drops the lock and
    /// the VFS.
    fn release(self: Box<Self>) {
        if self.temporary {
            for suffix in [""].into_iter().chain(COMPANION_SUFFIXES) {
                let _ = self.host.unlink(&format!("{}{suffix}", self.path));
            }
        }
        self.lock.release();
    }
}
