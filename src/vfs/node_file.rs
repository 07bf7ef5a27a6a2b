//! `NodeFileVfs`: SQLite files on disk in Node, through the host's `fs`
//! functions. Positional reads and writes, `fsync` when SQLite syncs,
//! truncate, size and delete, so the database is a standard SQLite file that
//! the `sqlite3` CLI and better-sqlite3 can open. Files SQLite opens without a
//! name (temporary tables, sorter spills) stay in memory. Each file on disk
//! is a `DiskFile` (disk_file.rs), which caches its size and joins the
//! contiguous writes of the WAL and the database file (one call per WAL
//! commit).
//!
//! A WAL or rollback journal that SQLite opens to create is new to its
//! directory, and fsync of a file does not make its directory entry durable:
//! as SQLite's unix VFS does, the first sync of such a file also syncs the
//! directory, so that a power loss cannot take the file (and every commit in
//! it) away after a commit was acknowledged.
//!
//! SQLite's own file locks are no-ops here: larder opens every file database
//! in `locking_mode=EXCLUSIVE` behind the facade's ownership lock (`js/ownership.ts`), so
//! no other connection ever shares the file.

use std::cell::RefCell;
use std::rc::Rc;

use sqlite_wasm_rs::vfs::{
    AccessMode, DeviceCharacteristics, FileKind, LockLevel, MemChunksFile, OpenAccess, OpenOptions,
    OpenRequest, OpenedFile, OsCallback, RegisterVfsError, SQLiteIoMethods, SQLiteVfs, SyncOptions, VfsError,
    VfsErrorCode, VfsFile, VfsRegistration, VfsResult, VfsStore,
};
use sqlite_wasm_rs::WasmOsCallback;

use super::disk_file::{sync_parent, vfs_error, DiskFile};
use super::node_host::NodeHost;

/// What the callbacks of one registered VFS share.
pub struct NodeVfsData {
    host: Rc<NodeHost>,
    os: WasmOsCallback,
    last_error: RefCell<Option<VfsError>>,
}

impl NodeVfsData {
    pub fn new(host: Rc<NodeHost>) -> NodeVfsData {
        NodeVfsData { host, os: WasmOsCallback, last_error: RefCell::new(None) }
    }
}

pub enum NodeFile {
    Disk(DiskFile),
    Memory(MemChunksFile),
}

impl VfsFile for NodeFile {
    fn read(&mut self, buf: &mut [u8], offset: u64) -> VfsResult<usize> {
        match self {
            NodeFile::Disk(file) => file.read(buf, offset),
            NodeFile::Memory(file) => file.read(buf, offset),
        }
    }

    fn write(&mut self, buf: &[u8], offset: u64) -> VfsResult<()> {
        match self {
            NodeFile::Disk(file) => file.write(buf, offset),
            NodeFile::Memory(file) => file.write(buf, offset),
        }
    }

    fn truncate(&mut self, size: u64) -> VfsResult<()> {
        match self {
            NodeFile::Disk(file) => file.truncate(size),
            NodeFile::Memory(file) => file.truncate(size),
        }
    }

    fn sync(&mut self, options: SyncOptions) -> VfsResult<()> {
        match self {
            NodeFile::Disk(file) => file.sync(),
            NodeFile::Memory(file) => file.sync(options),
        }
    }

    /// As SQLite's unix VFS by default: a write never damages the bytes
    /// around it, so a synced WAL commit needs no padding to a sector's end
    /// (with `synchronous=FULL`, SQLite otherwise writes a second copy of
    /// the commit frame to reach one).
    fn device_characteristics(&self) -> DeviceCharacteristics {
        match self {
            NodeFile::Disk(_) => DeviceCharacteristics::POWERSAFE_OVERWRITE,
            NodeFile::Memory(file) => file.device_characteristics(),
        }
    }

    fn size(&self) -> VfsResult<u64> {
        match self {
            NodeFile::Disk(file) => file.size(),
            NodeFile::Memory(file) => file.size(),
        }
    }

    // Exclusive ownership is larder's lock file; SQLite runs in exclusive
    // locking mode, so these never guard against another connection.
    fn lock(&mut self, _level: LockLevel) -> VfsResult<()> {
        Ok(())
    }

    fn unlock(&mut self, _level: LockLevel) -> VfsResult<()> {
        Ok(())
    }

    fn check_reserved_lock(&self) -> VfsResult<bool> {
        Ok(false)
    }
}

pub struct NodeStore;

impl VfsStore for NodeStore {
    type File = NodeFile;
    type AppData = NodeVfsData;

    fn record_error(data: &NodeVfsData, error: VfsError) {
        data.last_error.replace(Some(error));
    }

    fn last_error(data: &NodeVfsData) -> Option<VfsError> {
        data.last_error.borrow().clone()
    }

    fn open_file(data: &NodeVfsData, request: OpenRequest<'_>) -> VfsResult<OpenedFile<NodeFile>> {
        let options = request.options;
        let Some(filename) = request.filename else {
            return Ok(OpenedFile {
                file: NodeFile::Memory(MemChunksFile::default()),
                access: options.access(),
            });
        };
        let path = filename.path();
        let host = &data.host;
        let flags = match options.access() {
            OpenAccess::ReadOnly => host.flags.read_only,
            OpenAccess::ReadWrite => {
                let mut flags = host.flags.read_write;
                if options.create() {
                    flags |= host.flags.create;
                }
                if options.exclusive() {
                    flags |= host.flags.exclusive;
                }
                flags
            }
        };
        let fd = host.open(path, flags).map_err(|error| vfs_error(VfsErrorCode::CantOpen, path, error))?;
        // As SQLite's unix VFS: a journal or WAL opened to create may be new.
        let sync_dir = options.create()
            && matches!(options.kind(), Some(FileKind::Wal | FileKind::MainJournal | FileKind::SuperJournal));
        // Journals are written and synced before the database is touched:
        // nothing for a buffer to join. A read-only file fails its writes at once.
        let buffered = matches!(options.kind(), Some(FileKind::Wal | FileKind::MainDb))
            && matches!(options.access(), OpenAccess::ReadWrite);
        let file = NodeFile::Disk(DiskFile::new(host.clone(), fd, path.to_owned(), sync_dir, buffered));
        Ok(OpenedFile { file, access: options.access() })
    }

    fn close_file(
        data: &NodeVfsData,
        name: Option<&str>,
        file: NodeFile,
        options: OpenOptions,
    ) -> VfsResult<()> {
        let NodeFile::Disk(file) = file else { return Ok(()) };
        let closed = file.close();
        if options.delete_on_close() {
            if let Some(name) = name {
                data.host.unlink(name).map_err(|error| vfs_error(VfsErrorCode::IoDelete, name, error))?;
            }
        }
        closed
    }

    fn access(data: &NodeVfsData, name: &str, _mode: AccessMode) -> VfsResult<bool> {
        data.host.exists(name).map_err(|error| vfs_error(VfsErrorCode::IoAccess, name, error))
    }

    fn full_pathname(data: &NodeVfsData, name: &str) -> VfsResult<String> {
        Ok(data.host.resolve_path(name))
    }

    fn delete_file(data: &NodeVfsData, name: &str, sync_dir: bool) -> VfsResult<()> {
        let host = &data.host;
        host.unlink(name).map_err(|error| {
            let code =
                if error.is("ENOENT") { VfsErrorCode::IoDeleteNoEntry } else { VfsErrorCode::IoDelete };
            vfs_error(code, name, error)
        })?;
        if sync_dir {
            sync_parent(host, name)?;
        }
        Ok(())
    }
}

pub struct NodeIoMethods;

impl SQLiteIoMethods for NodeIoMethods {
    type Store = NodeStore;
}

pub struct NodeVfs;

impl SQLiteVfs<NodeIoMethods> for NodeVfs {
    type Os = dyn OsCallback;

    fn os(data: &NodeVfsData) -> &Self::Os {
        &data.os
    }
}

/// A registered instance of the VFS, bound to one store's host; unregistered
/// when dropped, after the store's connection has closed.
pub struct NodeFileVfs {
    name: String,
    registration: Option<VfsRegistration<NodeVfsData>>,
}

thread_local! {
    static NEXT_ID: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl NodeFileVfs {
    pub fn register(host: Rc<NodeHost>) -> Result<NodeFileVfs, RegisterVfsError> {
        let id = NEXT_ID.with(|next| next.replace(next.get() + 1));
        let name = format!("larder-node-{id}");
        let data = NodeVfsData::new(host);
        // SAFETY: NodeVfs and NodeIoMethods use rsqlite-vfs's default raw
        // callbacks and layouts, which agree by construction; the name is
        // unique; SQLite and this VFS are only used from this one thread.
        let registration =
            unsafe { sqlite_wasm_rs::vfs::register_vfs::<NodeIoMethods, NodeVfs>(&name, data, false)? };
        Ok(NodeFileVfs { name, registration: Some(registration) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for NodeFileVfs {
    fn drop(&mut self) {
        if let Some(registration) = self.registration.take() {
            // SAFETY: the store drops its connection (closing every file of
            // this VFS) before its NodeFileVfs; nothing else holds the pointer.
            if let Err((registration, _)) = unsafe { registration.unregister() } {
                // Still registered: keep the allocations alive rather than free them under SQLite.
                let _ = registration.into_raw();
            }
        }
    }
}
