//! What a store takes on disk: the database file (entries plus free pages)
//! and, for a file, its WAL (recent commits not yet copied into the file).
//! Both are kept in proportion to what is stored. Free pages are given back
//! by incremental vacuum (larder's files have `auto_vacuum = INCREMENTAL`,
//! see `schema`), only once they pile up and a bounded number per write; the
//! WAL is checkpointed after a few MiB of commits (see `limit_wal`) and cut
//! back to that size after.

use rusqlite::Connection;

use crate::error::Result;

/// WAL bytes after which a commit checkpoints, and the size the WAL is cut
/// back to after: with a budget, the budget within these bounds, so that the
/// file and its WAL stay in proportion to it. A checkpoint costs fsyncs, so
/// a bigger WAL makes writes cheaper, but not by much: through a 2 MB
/// budget (10,000 sets of 1 KB, each about 26 KB of WAL with its eviction),
/// a 4 MiB WAL instead of 2 MB halved the checkpoints' fsyncs (0.04 to 0.02
/// per set) and wrote 1% fewer bytes, not worth a WAL out of proportion to
/// a small budget.
const WAL_BYTES_MIN: u64 = 1 << 20;
const WAL_BYTES_MAX: u64 = 4 << 20;
/// Without a budget: 2048 of larder's 4 KiB pages; the WAL is still cut
/// back to it after. Measured on 10,000 sets of 1 KB (each writes about
/// 13 KB of WAL): 4 MiB copied 7% more bytes into the database per set,
/// 16 MiB 9% fewer, about 1% of all bytes written either way, with no
/// difference in time outside the noise; so not a bigger WAL on disk.
const WAL_BYTES_UNBUDGETED: u64 = 8 << 20;

/// Free pages a write leaves in place: a write that frees a few pages
/// (evictions, deletes) does not pay for a vacuum; the next inserts reuse them.
pub const FREE_PAGES_KEPT: i64 = 64;

/// Gives back at most 1024 free pages, so that no write pays for a long
/// vacuum; writes after it continue until the free pages are few again.
const VACUUM_STEP_SQL: &str = "PRAGMA incremental_vacuum(1024)";

/// Bounds the WAL of a file database (see `WAL_BYTES_MIN`).
pub fn limit_wal(conn: &Connection, max_size_bytes: Option<u64>) -> Result<()> {
    let wal_bytes = max_size_bytes
        .map_or(WAL_BYTES_UNBUDGETED, |budget| budget.clamp(WAL_BYTES_MIN, WAL_BYTES_MAX))
        as i64;
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |row| row.get(0))?;
    conn.pragma_update(None, "wal_autocheckpoint", (wal_bytes / page_size).max(1))?;
    conn.pragma_update(None, "journal_size_limit", wal_bytes)?;
    Ok(())
}

/// Free pages of the database, as the write in progress sees them.
fn free_pages(conn: &Connection) -> Result<i64> {
    Ok(conn.prepare_cached("PRAGMA freelist_count")?.query_row([], |row| row.get(0))?)
}

/// All pages of the database, as the write in progress sees them.
fn all_pages(conn: &Connection) -> Result<i64> {
    Ok(conn.prepare_cached("PRAGMA page_count")?.query_row([], |row| row.get(0))?)
}

/// Inside a write: once free pages exceed `FREE_PAGES_KEPT` and an eighth of
/// the file, gives back a step of them. Returns whether any were.
pub fn trim_free_pages(conn: &Connection) -> Result<bool> {
    // The file's size matters only past the few pages always kept.
    let free = free_pages(conn)?;
    if free <= FREE_PAGES_KEPT || free <= all_pages(conn)? / 8 {
        return Ok(false);
    }
    incremental_vacuum(conn, VACUUM_STEP_SQL)?;
    Ok(true)
}

/// Inside a write: gives back every free page (after a removal meant to
/// free space). Returns whether there were any.
pub fn release_free_pages(conn: &Connection) -> Result<bool> {
    if free_pages(conn)? == 0 {
        return Ok(false);
    }
    incremental_vacuum(conn, "PRAGMA incremental_vacuum")?;
    Ok(true)
}

/// Runs an `incremental_vacuum` pragma to its end: it frees one page per
/// step (each step returns a row), so stopping at the first row frees one.
fn incremental_vacuum(conn: &Connection, sql: &str) -> Result<()> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// After a commit that gave pages back: checkpoints everything and empties
/// the WAL, which is when the database file actually shrinks.
pub fn truncate_wal(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// The bytes of the database file and of its WAL, as the VFS reports them
/// (0 for a file not open, and for memory databases, which have neither).
pub fn file_bytes(conn: &Connection) -> (u64, u64) {
    use rusqlite::ffi;
    /// The size of the file SQLite holds behind `op` for the main database.
    fn size_of(conn: &Connection, op: std::os::raw::c_int) -> u64 {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: the handle is this open connection's; the file control
        // only writes the main database's (or its WAL's) file pointer,
        // which SQLite keeps valid while the connection is open and unused
        // elsewhere, and `xFileSize` only reads that file's size.
        unsafe {
            let found = ffi::sqlite3_file_control(
                conn.handle(),
                c"main".as_ptr(),
                op,
                (&mut file as *mut *mut ffi::sqlite3_file).cast(),
            );
            if found != ffi::SQLITE_OK || file.is_null() || (*file).pMethods.is_null() {
                return 0;
            }
            let Some(file_size) = (*(*file).pMethods).xFileSize else { return 0 };
            let mut size: ffi::sqlite3_int64 = 0;
            if file_size(file, &mut size) != ffi::SQLITE_OK {
                return 0;
            }
            size.max(0) as u64
        }
    }
    (size_of(conn, ffi::SQLITE_FCNTL_FILE_POINTER), size_of(conn, ffi::SQLITE_FCNTL_JOURNAL_POINTER))
}
