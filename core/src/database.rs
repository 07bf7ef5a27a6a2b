//! The connection a store is handed, with what backs it. Where a database
//! lives (memory, a Node file, OPFS) is the wasm crate's business; the core
//! sees only the connection and a `Backing` to ask and to release.

use rusqlite::Connection;

use crate::error::{Result, StorageError};

/// What holds a database's storage for as long as the connection is open.
pub trait Backing {
    /// Whether the database is a file (on disk or in OPFS), not memory.
    fn is_file(&self) -> bool;

    /// That the file is still this store's: another owner may have taken it
    /// over while this process was frozen. Checked before every operation.
    fn confirm_owned(&self) -> Result<()>;

    /// Releases what backs the database. Called once, after the connection
    /// has closed (or failed to open).
    fn release(self: Box<Self>);
}

pub struct Database {
    pub conn: Connection,
    backing: Box<dyn Backing>,
}

/// An in-memory database: nothing to own or release.
struct Memory;

impl Backing for Memory {
    fn is_file(&self) -> bool {
        false
    }

    fn confirm_owned(&self) -> Result<()> {
        Ok(())
    }

    fn release(self: Box<Self>) {}
}

/// A file SQLite opens through its own operating-system VFS (native builds
/// only: the core's tests and benchmarks); no ownership lock beyond SQLite's.
#[cfg(not(target_arch = "wasm32"))]
struct NativeFile;

#[cfg(not(target_arch = "wasm32"))]
impl Backing for NativeFile {
    fn is_file(&self) -> bool {
        true
    }

    fn confirm_owned(&self) -> Result<()> {
        Ok(())
    }

    fn release(self: Box<Self>) {}
}

impl Database {
    pub fn in_memory() -> Result<Database> {
        Ok(Database { conn: Connection::open_in_memory()?, backing: Box::new(Memory) })
    }

    /// A file through SQLite's own VFS, natively (see `NativeFile`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn native_file(path: &std::path::Path) -> Result<Database> {
        Database::over(Connection::open(path), Box::new(NativeFile))
    }

    /// A connection opened by `open`, over `backing`; the backing is
    /// released if the open failed.
    pub fn over(open: rusqlite::Result<Connection>, backing: Box<dyn Backing>) -> Result<Database> {
        match open {
            Ok(conn) => Ok(Database { conn, backing }),
            Err(error) => {
                backing.release();
                Err(error.into())
            }
        }
    }

    pub fn is_file(&self) -> bool {
        self.backing.is_file()
    }

    pub fn confirm_owned(&self) -> Result<()> {
        self.backing.confirm_owned()
    }

    /// Closes the connection, then releases what backs it.
    pub fn close(self) -> Result<()> {
        let closed = self.conn.close().map_err(|(_, error)| StorageError::from(error));
        self.backing.release();
        closed
    }
}
