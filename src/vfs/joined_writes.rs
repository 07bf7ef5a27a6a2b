//! `JoinedWritesVfs`: a VFS around another, registered VFS (the OPFS pool
//! of sqlite-wasm-vfs, whose file type is its own), whose database and WAL
//! files join contiguous writes in a `WriteBuffer` as the Node VFS's
//! `DiskFile` does: one write per WAL commit instead of two per frame (its
//! 24-byte header, then its page), and one per run of adjacent pages a
//! checkpoint copies into the database. In OPFS each
//! `FileSystemSyncAccessHandle.write` costs about as much whatever its size
//! (README, Performance), so a `set` saves about five of them.
//!
//! The rules are `DiskFile`'s: the buffer is written out when a WAL commit
//! completes (so a commit is in the file before SQLite reports it, flushed
//! or not), before a read that overlaps it or a write it cannot take, and at
//! every sync, truncate and close; a failed write of it fails that call with
//! the inner file's code. Journals and other files are passed through.
//!
//! Every other method of the VFS and of its files is the inner VFS's own:
//! the VFS-level ones are copied with its `pAppData`, which is where
//! rsqlite-vfs's callbacks find their state; a file's are called on the
//! inner file, which lives in the same allocation, after this one's header.

use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr;

use sqlite_wasm_rs::{
    sqlite3_file, sqlite3_int64, sqlite3_io_methods, sqlite3_vfs, sqlite3_vfs_find, sqlite3_vfs_register,
    sqlite3_vfs_unregister, SQLITE_IOERR, SQLITE_NOTFOUND, SQLITE_OK, SQLITE_OPEN_MAIN_DB,
    SQLITE_OPEN_READWRITE, SQLITE_OPEN_WAL,
};

use super::write_buffer::WriteBuffer;

/// The registered VFS: SQLite's struct first, so that the pointer SQLite
/// passes back to `x_open` is this whole struct.
#[repr(C)]
struct Registered {
    vfs: sqlite3_vfs,
    inner: *mut sqlite3_vfs,
    /// Keeps `vfs.zName` alive.
    _name: CString,
}

/// A registered `JoinedWritesVfs`; unregistered when dropped.
pub struct JoinedWritesVfs {
    registered: Box<Registered>,
}

impl JoinedWritesVfs {
    /// Registers `name` around the VFS registered as `inner_name`, which
    /// must outlive it.
    pub fn register(name: &str, inner_name: &str) -> Result<JoinedWritesVfs, String> {
        let c_name = CString::new(name).map_err(|_| format!("VFS name {name:?} has a NUL"))?;
        let c_inner = CString::new(inner_name).map_err(|_| format!("VFS name {inner_name:?} has a NUL"))?;
        // SAFETY: a NUL-terminated name; SQLite only reads it.
        let inner = unsafe { sqlite3_vfs_find(c_inner.as_ptr()) };
        if inner.is_null() {
            return Err(format!("no VFS named {inner_name}"));
        }
        // SAFETY: `inner` is a registered VFS, valid while it stays registered.
        let inner_vfs = unsafe { &*inner };
        let vfs = sqlite3_vfs {
            szOsFile: (HEADER_BYTES + inner_vfs.szOsFile as usize) as c_int,
            pNext: ptr::null_mut(),
            zName: c_name.as_ptr(),
            xOpen: Some(x_open),
            ..*inner_vfs
        };
        let mut registered = Box::new(Registered { vfs, inner, _name: c_name });
        // SAFETY: the struct is boxed, so its address stays put until `drop`
        // unregisters it; not the default VFS.
        let rc = unsafe { sqlite3_vfs_register(&mut registered.vfs, 0) };
        if rc != SQLITE_OK {
            return Err(format!("sqlite3_vfs_register failed with code {rc}"));
        }
        Ok(JoinedWritesVfs { registered })
    }
}

impl Drop for JoinedWritesVfs {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; the caller has closed every
        // connection that used it.
        unsafe { sqlite3_vfs_unregister(&mut self.registered.vfs) };
    }
}

/// An open file: SQLite's struct first, the inner file after `HEADER_BYTES`.
#[repr(C)]
struct JoinedFile {
    base: sqlite3_file,
    /// The buffer of a database or WAL file; null for a file passed through.
    pending: *mut WriteBuffer,
}

/// Where the inner file starts: the header rounded up to 8 bytes, the
/// alignment SQLite gives the whole allocation.
const HEADER_BYTES: usize = std::mem::size_of::<JoinedFile>().next_multiple_of(8);

// The contract of the callbacks and helpers below, on which each of their
// `unsafe` blocks relies: SQLite calls `x_open` with this VFS's `Registered`
// and an allocation of its `szOsFile` bytes, and a file's methods only on a
// file whose open succeeded, one call at a time per connection; the inner
// file's methods are called on the inner file with the arguments SQLite
// passed, which meet the inner VFS's same contract.

/// The inner file of `file`.
///
/// SAFETY: `file` is a `JoinedFile` allocated with this VFS's `szOsFile`.
unsafe fn inner_of(file: *mut sqlite3_file) -> *mut sqlite3_file {
    // SAFETY: the contract above.
    unsafe { file.cast::<u8>().add(HEADER_BYTES).cast() }
}

/// The inner file's methods (set by its open, which succeeded).
///
/// SAFETY: as `inner_of`, on an open file.
unsafe fn inner_methods(file: *mut sqlite3_file) -> &'static sqlite3_io_methods {
    // SAFETY: the contract above.
    unsafe { &*(*inner_of(file)).pMethods }
}

unsafe extern "C" fn x_open(
    vfs: *mut sqlite3_vfs,
    name: *const c_char,
    file: *mut sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        // SQLite calls no method of a file whose open failed (null methods).
        (*file).pMethods = ptr::null();
        let inner = (*vfs.cast::<Registered>()).inner;
        let Some(open) = (*inner).xOpen else { return SQLITE_IOERR };
        let rc = open(inner, name, inner_of(file), flags, out_flags);
        if rc != SQLITE_OK {
            return rc;
        }
        // A read-only file fails its writes at once, unbuffered.
        let buffered =
            flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL) != 0 && flags & SQLITE_OPEN_READWRITE != 0;
        let joined = file.cast::<JoinedFile>();
        (*joined).pending = if buffered { Box::into_raw(Box::default()) } else { ptr::null_mut() };
        (*file).pMethods = &METHODS;
        SQLITE_OK
    }
}

/// The buffer of `file`, if it has one.
///
/// SAFETY: `file` is an open `JoinedFile`; the buffer is only touched from
/// SQLite's calls on this file, one at a time.
unsafe fn pending<'a>(file: *mut sqlite3_file) -> Option<&'a mut WriteBuffer> {
    // SAFETY: the contract above.
    unsafe { (*file.cast::<JoinedFile>()).pending.as_mut() }
}

/// Writes out what the buffer holds through the inner file, then empties
/// it, written or not (SQLite fails the transaction and writes again).
unsafe fn flush(file: *mut sqlite3_file) -> c_int {
    // SAFETY: the contract above.
    unsafe { pending(file).map_or(SQLITE_OK, |buffer| code(buffer.write_out(writing_to(file)))) }
}

/// The inner file's write, as `WriteBuffer` writes out through it: the
/// inner code of a failure is its error.
///
/// SAFETY: as `inner_of`, on an open file.
unsafe fn writing_to(file: *mut sqlite3_file) -> impl FnMut(&[u8], u64) -> Result<(), c_int> {
    // SAFETY: the contract above.
    move |bytes, offset| match unsafe { inner_write(file, bytes, offset) } {
        SQLITE_OK => Ok(()),
        failed => Err(failed),
    }
}

/// SQLite's code for a write-out's outcome.
fn code(outcome: Result<(), c_int>) -> c_int {
    outcome.err().unwrap_or(SQLITE_OK)
}

unsafe fn inner_write(file: *mut sqlite3_file, bytes: &[u8], offset: u64) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        let Some(write) = inner_methods(file).xWrite else { return SQLITE_IOERR };
        write(inner_of(file), bytes.as_ptr().cast(), bytes.len() as c_int, offset as sqlite3_int64)
    }
}

unsafe extern "C" fn x_close(file: *mut sqlite3_file) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        let flushed = flush(file);
        let closed = inner_methods(file).xClose.map_or(SQLITE_OK, |close| close(inner_of(file)));
        let joined = file.cast::<JoinedFile>();
        if !(*joined).pending.is_null() {
            drop(Box::from_raw((*joined).pending));
            (*joined).pending = ptr::null_mut();
        }
        if flushed != SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

unsafe extern "C" fn x_read(
    file: *mut sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: sqlite3_int64,
) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        if let Some(buffer) = pending(file) {
            let rc = code(buffer.before_read(offset as u64, amount as usize, writing_to(file)));
            if rc != SQLITE_OK {
                return rc;
            }
        }
        let Some(read) = inner_methods(file).xRead else { return SQLITE_IOERR };
        read(inner_of(file), buf, amount, offset)
    }
}

unsafe extern "C" fn x_write(
    file: *mut sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: sqlite3_int64,
) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), amount as usize);
        let offset = offset as u64;
        match pending(file) {
            Some(buffer) => code(buffer.write(bytes, offset, writing_to(file))),
            None => inner_write(file, bytes, offset),
        }
    }
}

/// `call` on the inner file once the buffer is written out, unless that failed.
unsafe fn after_flush(file: *mut sqlite3_file, call: impl FnOnce(*mut sqlite3_file) -> c_int) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        match flush(file) {
            SQLITE_OK => call(inner_of(file)),
            failed => failed,
        }
    }
}

unsafe extern "C" fn x_truncate(file: *mut sqlite3_file, size: sqlite3_int64) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        let truncate = inner_methods(file).xTruncate;
        after_flush(file, |inner| truncate.map_or(SQLITE_IOERR, |truncate| truncate(inner, size)))
    }
}

unsafe extern "C" fn x_sync(file: *mut sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        let sync = inner_methods(file).xSync;
        after_flush(file, |inner| sync.map_or(SQLITE_IOERR, |sync| sync(inner, flags)))
    }
}

/// The size SQLite sees: the file's, or the end of the buffered bytes.
unsafe extern "C" fn x_file_size(file: *mut sqlite3_file, size: *mut sqlite3_int64) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        let Some(file_size) = inner_methods(file).xFileSize else { return SQLITE_IOERR };
        let rc = file_size(inner_of(file), size);
        if rc == SQLITE_OK {
            if let Some(buffer) = pending(file) {
                *size = buffer.size_over(*size as u64) as sqlite3_int64;
            }
        }
        rc
    }
}

unsafe extern "C" fn x_lock(file: *mut sqlite3_file, level: c_int) -> c_int {
    // SAFETY: the contract above.
    unsafe { inner_methods(file).xLock.map_or(SQLITE_OK, |lock| lock(inner_of(file), level)) }
}

unsafe extern "C" fn x_unlock(file: *mut sqlite3_file, level: c_int) -> c_int {
    // SAFETY: the contract above.
    unsafe { inner_methods(file).xUnlock.map_or(SQLITE_OK, |unlock| unlock(inner_of(file), level)) }
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: the contract above.
    unsafe { inner_methods(file).xCheckReservedLock.map_or(SQLITE_IOERR, |check| check(inner_of(file), out)) }
}

unsafe extern "C" fn x_file_control(file: *mut sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        inner_methods(file).xFileControl.map_or(SQLITE_NOTFOUND, |control| control(inner_of(file), op, arg))
    }
}

unsafe extern "C" fn x_sector_size(file: *mut sqlite3_file) -> c_int {
    // SAFETY: the contract above.
    unsafe { inner_methods(file).xSectorSize.map_or(4096, |sector_size| sector_size(inner_of(file))) }
}

unsafe extern "C" fn x_device_characteristics(file: *mut sqlite3_file) -> c_int {
    // SAFETY: the contract above.
    unsafe {
        inner_methods(file)
            .xDeviceCharacteristics
            .map_or(0, |characteristics| characteristics(inner_of(file)))
    }
}

/// Version 1, as the inner VFS's: no shared memory (larder's connections
/// run in exclusive locking mode, whose WAL index lives in the heap) and no
/// memory map (a page read through one would miss the buffer).
static METHODS: sqlite3_io_methods = sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::ffi::CStr;

    use sqlite_wasm_rs::{SQLITE_FULL, SQLITE_OPEN_CREATE, SQLITE_OPEN_MAIN_JOURNAL, SQLITE_OPEN_READONLY};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::super::write_buffer::frame_header;
    use super::*;

    /// How SQLite opens the files larder writes.
    const READ_WRITE: c_int = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

    thread_local! {
        /// The inner VFS's writes, `(offset, length)`, and whether it fails them.
        static INNER_WRITES: RefCell<(Vec<(i64, usize)>, bool)> = const { RefCell::new((Vec::new(), false)) };
    }

    fn inner_writes() -> Vec<(i64, usize)> {
        INNER_WRITES.with(|writes| writes.borrow().0.clone())
    }

    fn fail_inner_writes(fail: bool) {
        INNER_WRITES.with(|writes| writes.borrow_mut().1 = fail);
    }

    unsafe extern "C" fn inner_open(
        _vfs: *mut sqlite3_vfs,
        _name: *const c_char,
        file: *mut sqlite3_file,
        _flags: c_int,
        _out_flags: *mut c_int,
    ) -> c_int {
        // SAFETY: SQLite's (here the joined VFS's) open contract: `file` is
        // this VFS's `szOsFile` bytes.
        unsafe { (*file).pMethods = &INNER_METHODS };
        SQLITE_OK
    }

    unsafe extern "C" fn inner_write(
        _file: *mut sqlite3_file,
        _buf: *const c_void,
        amount: c_int,
        offset: i64,
    ) -> c_int {
        INNER_WRITES.with(|writes| {
            let mut writes = writes.borrow_mut();
            writes.0.push((offset, amount as usize));
            if writes.1 {
                SQLITE_FULL
            } else {
                SQLITE_OK
            }
        })
    }

    unsafe extern "C" fn inner_ok(_file: *mut sqlite3_file) -> c_int {
        SQLITE_OK
    }

    unsafe extern "C" fn inner_sync(_file: *mut sqlite3_file, _flags: c_int) -> c_int {
        SQLITE_OK
    }

    /// A file that records its writes and has nothing else to do.
    static INNER_METHODS: sqlite3_io_methods = sqlite3_io_methods {
        iVersion: 1,
        xClose: Some(inner_ok),
        xWrite: Some(inner_write),
        xSync: Some(inner_sync),
        ..NO_METHODS
    };

    const NO_METHODS: sqlite3_io_methods = sqlite3_io_methods {
        iVersion: 1,
        xClose: None,
        xRead: None,
        xWrite: None,
        xTruncate: None,
        xSync: None,
        xFileSize: None,
        xLock: None,
        xUnlock: None,
        xCheckReservedLock: None,
        xFileControl: None,
        xSectorSize: None,
        xDeviceCharacteristics: None,
        xShmMap: None,
        xShmLock: None,
        xShmBarrier: None,
        xShmUnmap: None,
        xFetch: None,
        xUnfetch: None,
    };

    const INNER_NAME: &CStr = c"joined-test-inner";

    /// Registers the recording VFS once, and a `JoinedWritesVfs` around it.
    fn joined_vfs(name: &str) -> (JoinedWritesVfs, *mut sqlite3_vfs) {
        // SAFETY: a NUL-terminated name.
        if unsafe { sqlite3_vfs_find(INNER_NAME.as_ptr()) }.is_null() {
            // SAFETY: an all-zero sqlite3_vfs is null pointers and `None`s.
            let mut inner: sqlite3_vfs = unsafe { std::mem::zeroed() };
            inner.iVersion = 1;
            inner.szOsFile = std::mem::size_of::<sqlite3_file>() as c_int;
            inner.mxPathname = 64;
            inner.zName = INNER_NAME.as_ptr();
            inner.xOpen = Some(inner_open);
            // SAFETY: leaked, so registered for the rest of the process.
            unsafe { sqlite3_vfs_register(Box::into_raw(Box::new(inner)), 0) };
        }
        let joined = JoinedWritesVfs::register(name, INNER_NAME.to_str().unwrap()).unwrap();
        let c_name = CString::new(name).unwrap();
        // SAFETY: a NUL-terminated name.
        let vfs = unsafe { sqlite3_vfs_find(c_name.as_ptr()) };
        (joined, vfs)
    }

    /// A file of `vfs` opened with `flags`, in memory the test owns.
    fn open(vfs: *mut sqlite3_vfs, flags: c_int) -> (Vec<u64>, *mut sqlite3_file) {
        // SAFETY: `vfs` is registered; the open gets `szOsFile` bytes,
        // aligned to 8, which outlive the file (returned with it).
        unsafe {
            let mut memory = vec![0u64; ((*vfs).szOsFile as usize).div_ceil(8)];
            let file = memory.as_mut_ptr().cast::<sqlite3_file>();
            let rc = (*vfs).xOpen.unwrap()(vfs, c"f".as_ptr(), file, flags, ptr::null_mut());
            assert_eq!(rc, SQLITE_OK);
            (memory, file)
        }
    }

    fn write(file: *mut sqlite3_file, bytes: &[u8], offset: i64) -> c_int {
        // SAFETY: an open file; `bytes` is valid for its length.
        unsafe {
            (*(*file).pMethods).xWrite.unwrap()(file, bytes.as_ptr().cast(), bytes.len() as c_int, offset)
        }
    }

    const PAGE: usize = 4096;

    /// Two frames of one commit: a header and a page each, the commit
    /// frame's header with the database's size in pages.
    fn write_commit(file: *mut sqlite3_file, at: i64) -> c_int {
        let frame = (24 + PAGE) as i64;
        let page = [1u8; PAGE];
        for rc in [
            write(file, &frame_header(0), at),
            write(file, &page, at + 24),
            write(file, &frame_header(2), at + frame),
        ] {
            assert_eq!(rc, SQLITE_OK, "held, not yet written");
        }
        write(file, &page, at + frame + 24)
    }

    fn close(file: *mut sqlite3_file) -> c_int {
        // SAFETY: an open file, not used after.
        unsafe { (*(*file).pMethods).xClose.unwrap()(file) }
    }

    #[wasm_bindgen_test]
    fn a_wal_commit_reaches_the_inner_file_in_one_write_and_a_journal_is_passed_through() {
        let (_joined, vfs) = joined_vfs("joined-test-commit");
        let before = inner_writes().len();
        let (_wal_memory, wal) = open(vfs, SQLITE_OPEN_WAL | READ_WRITE);
        assert_eq!(write_commit(wal, 32), SQLITE_OK);
        assert_eq!(inner_writes()[before..], [(32, 2 * (24 + PAGE))], "the commit's four writes as one");
        let (_journal_memory, journal) = open(vfs, SQLITE_OPEN_MAIN_JOURNAL | READ_WRITE);
        assert_eq!(write(journal, &[5u8; 512], 0), SQLITE_OK);
        assert_eq!(inner_writes()[before + 1..], [(0, 512)], "a journal's write, at once");
        assert_eq!((close(wal), close(journal)), (SQLITE_OK, SQLITE_OK));
    }

    #[wasm_bindgen_test]
    fn a_write_the_inner_file_refuses_fails_the_commit_with_its_code_and_is_not_repeated() {
        let (_joined, vfs) = joined_vfs("joined-test-refused");
        let (_memory, wal) = open(vfs, SQLITE_OPEN_WAL | READ_WRITE);
        fail_inner_writes(true);
        let before = inner_writes().len();
        let refused = write_commit(wal, 32);
        fail_inner_writes(false);
        assert_eq!(refused, SQLITE_FULL, "the inner file's code");
        assert_eq!(inner_writes().len(), before + 1, "one write, failed");
        // SAFETY: an open file.
        let synced = unsafe { (*(*wal).pMethods).xSync.unwrap()(wal, 0) };
        assert_eq!(
            (synced, inner_writes().len()),
            (SQLITE_OK, before + 1),
            "the buffer was dropped: nothing to write"
        );
        assert_eq!(close(wal), SQLITE_OK);
    }

    #[wasm_bindgen_test]
    fn a_file_opened_read_only_is_passed_through() {
        let (_joined, vfs) = joined_vfs("joined-test-read-only");
        let (_memory, wal) = open(vfs, SQLITE_OPEN_WAL | SQLITE_OPEN_READONLY);
        let before = inner_writes().len();
        assert_eq!(write(wal, &frame_header(0), 32), SQLITE_OK);
        assert_eq!(
            inner_writes()[before..],
            [(32, 24)],
            "its write reaches the inner file at once, to fail there"
        );
        assert_eq!(close(wal), SQLITE_OK);
    }
}
