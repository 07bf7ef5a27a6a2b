//! `DiskFile`: one open file of `NodeFileVfs`, and the syscalls it saves.
//!
//! - Its size is kept in the handle once known (larder owns the file
//!   exclusively, so only this handle changes it): SQLite asks for it often,
//!   and each answer would otherwise be an `fstatSync`; a truncate to the size
//!   the file already has is skipped.
//! - The WAL's and the database's writes go through a `WriteBuffer` (see
//!   there), which joins contiguous writes: one `writeSync` per WAL commit,
//!   and one per run of adjacent pages a checkpoint copies into the database.
//!   The buffer is written out when a WAL commit completes, before a read or
//!   write it does not cover, and at every sync, truncate and close. SQLite
//!   never reads the file without what it wrote; it syncs the database after
//!   every checkpoint (and every commit in rollback mode), so no write to it
//!   is acknowledged from the buffer alone. A failed write of the buffer
//!   fails that call, with the code a direct write would have had. Journals
//!   are written through.

use std::cell::Cell;
use std::rc::Rc;

use sqlite_wasm_rs::vfs::{VfsError, VfsErrorCode, VfsResult};

use super::node_host::{Fd, FsError, NodeHost};
use super::write_buffer::WriteBuffer;

/// Turns a host failure into the SQLite error for the operation that failed;
/// a full disk is always `SQLITE_FULL`, whatever the operation.
pub fn vfs_error(operation: VfsErrorCode, what: &str, error: FsError) -> VfsError {
    let code = if error.is_full() { VfsErrorCode::Full } else { operation };
    VfsError::new(code, format!("{what}: {} {error}", error.code).into())
}

pub struct DiskFile {
    host: Rc<NodeHost>,
    fd: Fd,
    path: String,
    /// The directory still has to be synced once (see node_file.rs).
    sync_dir: bool,
    /// The size SQLite sees (what is on disk and in `pending`), once known.
    size: Cell<Option<u64>>,
    /// Writes not yet made; `None` for a file written through.
    pending: Option<WriteBuffer>,
}

/// Writes of bytes at an offset, straight to the file `fd`.
fn writing_to(host: &NodeHost, fd: Fd) -> impl FnMut(&[u8], u64) -> Result<(), FsError> + '_ {
    move |bytes, start| host.write_at(fd, bytes, start)
}

impl DiskFile {
    pub fn new(host: Rc<NodeHost>, fd: Fd, path: String, sync_dir: bool, buffered: bool) -> DiskFile {
        let pending = buffered.then(WriteBuffer::default);
        DiskFile { host, fd, path, sync_dir, size: Cell::new(None), pending }
    }

    fn error(&self, operation: VfsErrorCode, error: FsError) -> VfsError {
        vfs_error(operation, &self.path, error)
    }

    /// Writes out what the buffer holds. Failed or not, the buffer is
    /// emptied, and the size is no longer known (part may have been written).
    pub fn flush(&mut self) -> VfsResult<()> {
        let Some(pending) = self.pending.as_mut() else { return Ok(()) };
        let written = pending.write_out(writing_to(&self.host, self.fd));
        self.written(written)
    }

    pub fn read(&mut self, buf: &mut [u8], offset: u64) -> VfsResult<usize> {
        if let Some(pending) = self.pending.as_mut() {
            let written = pending.before_read(offset, buf.len(), writing_to(&self.host, self.fd));
            self.written(written)?;
        }
        self.host.read_at(self.fd, buf, offset).map_err(|error| self.error(VfsErrorCode::IoRead, error))
    }

    pub fn write(&mut self, buf: &[u8], offset: u64) -> VfsResult<()> {
        self.grow_to(offset + buf.len() as u64);
        let mut write_at = writing_to(&self.host, self.fd);
        let written = match self.pending.as_mut() {
            Some(pending) => pending.write(buf, offset, write_at),
            None => write_at(buf, offset),
        };
        self.written(written)
    }

    /// A write's outcome as SQLite's: after a failure the size is no longer
    /// known (part may have been written).
    fn written(&self, outcome: Result<(), FsError>) -> VfsResult<()> {
        outcome.map_err(|error| {
            self.size.set(None);
            self.error(VfsErrorCode::IoWrite, error)
        })
    }

    /// A write reaching `end` makes the file at least that long.
    fn grow_to(&self, end: u64) {
        if let Some(size) = self.size.get() {
            self.size.set(Some(size.max(end)));
        }
    }

    pub fn truncate(&mut self, size: u64) -> VfsResult<()> {
        self.flush()?;
        if self.size.get() == Some(size) {
            return Ok(());
        }
        self.size.set(None);
        self.host.truncate(self.fd, size).map_err(|error| self.error(VfsErrorCode::IoTruncate, error))?;
        self.size.set(Some(size));
        Ok(())
    }

    /// Writes out the buffer and fsyncs; the first sync of a new journal or
    /// WAL also syncs its directory (see node_file.rs).
    pub fn sync(&mut self) -> VfsResult<()> {
        self.flush()?;
        self.host.fsync(self.fd).map_err(|error| self.error(VfsErrorCode::IoSync, error))?;
        if self.sync_dir {
            sync_parent(&self.host, &self.path)?;
            self.sync_dir = false;
        }
        Ok(())
    }

    pub fn size(&self) -> VfsResult<u64> {
        if let Some(size) = self.size.get() {
            return Ok(size);
        }
        let on_disk = self.host.size(self.fd).map_err(|error| self.error(VfsErrorCode::IoStat, error))?;
        let size = self.pending.as_ref().map_or(on_disk, |pending| pending.size_over(on_disk));
        self.size.set(Some(size));
        Ok(size)
    }

    /// Writes out the buffer and closes the file, even if the write failed;
    /// returns the first failure.
    pub fn close(mut self) -> VfsResult<()> {
        let flushed = self.flush();
        let closed = self.host.close(self.fd).map_err(|error| self.error(VfsErrorCode::IoClose, error));
        flushed.and(closed)
    }
}

/// Makes `path`'s entry in its directory (created or deleted) durable.
pub fn sync_parent(host: &NodeHost, path: &str) -> VfsResult<()> {
    let dir = host.dirname(path);
    host.sync_dir(&dir).map_err(|error| vfs_error(VfsErrorCode::IoDirectorySync, &dir, error))
}
