//! `NodeFileVfs` against real files: rsqlite-vfs's own VFS checks
//! (`test_suite::test_vfs_store`) on `NodeStore`, and SQLite through the
//! registered VFS, alone and inside the OPFS store's `JoinedWritesVfs`. Node only: in a browser there is no `node:fs`, and each
//! test says so and passes without checking anything.

use std::rc::Rc;

use js_sys::Reflect;
use rusqlite::{Connection, OpenFlags};
use sqlite_wasm_rs::vfs::test_suite::test_vfs_store;
use sqlite_wasm_rs::vfs::{VfsAppData, VfsErrorCode, VfsResult};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

use super::disk_file::DiskFile;
use super::joined_writes::JoinedWritesVfs;
use super::node_file::{NodeFileVfs, NodeStore, NodeVfsData};
use super::node_host::{Fd, NodeHost};

/// A host over `node:fs` itself with a fresh temp directory, as js/node.ts's
/// `fileHost` builds one (its `atView` is the same function), or `None`
/// outside Node. `fsFunctions` is empty: node:fs has every function, and the
/// refusal of an `fs` lacking one is tested through the facade (tests/js).
const NODE_HOST: &str = "(() => {
    const getBuiltin = globalThis.process?.getBuiltinModule;
    if (typeof getBuiltin !== 'function') return undefined;
    const fs = getBuiltin('node:fs');
    const path = getBuiltin('node:path');
    const os = getBuiltin('node:os');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lt-vfs-'));
    // Counts the calls of the functions below, and fails them with the
    // errno code `faults.failWith` while it is set.
    const faults = { failWith: undefined, calls: {} };
    const counted = (name) => function (...args) {
        faults.calls[name] = (faults.calls[name] ?? 0) + 1;
        if (faults.failWith) {
            const error = new Error(`${faults.failWith}: injected, ${name}`);
            error.code = faults.failWith;
            throw error;
        }
        return fs[name](...args);
    };
    const watched = { ...fs };
    for (const name of ['writeSync', 'fstatSync', 'ftruncateSync']) watched[name] = counted(name);
    function atView(fsFunction, fd, memory, ptr, len, position) {
        const count = fsFunction.call(this, fd, new Uint8Array(memory.buffer, ptr, len), 0, len, position);
        return typeof count === 'number' ? count : 0;
    }
    const host = {
        fs: watched,
        fsFunctions: [],
        atView,
        flags: fs.constants,
        resolvePath: (file) => path.resolve(dir, file),
        dirname: (file) => path.dirname(file),
        tempPath: () => path.join(dir, 'temp.sqlite'),
        acquireLock: () => Promise.reject(new Error('no lock in these tests')),
    };
    const leftovers = () => fs.readdirSync(dir).sort();
    const chdir = (to) => { const from = process.cwd(); process.chdir(to); return from; };
    const remove = () => fs.rmSync(dir, { recursive: true, force: true });
    const failWith = (code) => { faults.failWith = code; };
    const calls = (name) => faults.calls[name] ?? 0;
    // Debian's sqlite3 CLI reads what the VFS wrote: larder's own SQLite is
    // built without the integrity check.
    const integrityCheck = (file) => getBuiltin('node:child_process')
        .execFileSync('/usr/bin/sqlite3', [path.join(dir, file), 'PRAGMA integrity_check'], { encoding: 'utf8' })
        .trim();
    return { dir, host, leftovers, chdir, remove, failWith, calls, integrityCheck };
})()";

/// The Node host of one test, and its temp directory, removed on drop.
struct TempHost {
    js: JsValue,
    host: Rc<NodeHost>,
    dir: String,
}

impl TempHost {
    fn new() -> Option<TempHost> {
        let js = js_sys::eval(NODE_HOST).expect("building the Node host");
        if js.is_undefined() {
            console_log!("not Node (no process.getBuiltinModule): nothing to check here");
            return None;
        }
        let host = NodeHost::from_js(&field(&js, "host")).expect("the test host is complete");
        let dir = field(&js, "dir").as_string().expect("the temp directory");
        Some(TempHost { js, host: Rc::new(host), dir })
    }

    fn call(&self, name: &str, arg: &JsValue) -> JsValue {
        let function: js_sys::Function = field(&self.js, name).into();
        function.call1(&JsValue::UNDEFINED, arg).unwrap_or_else(|error| panic!("{name}: {error:?}"))
    }

    /// The names left in the directory.
    fn leftovers(&self) -> Vec<String> {
        let names = js_sys::Array::from(&self.call("leftovers", &JsValue::UNDEFINED));
        names.iter().filter_map(|name| name.as_string()).collect()
    }

    /// Makes the counted `fs` functions throw `code` (`None`: stop).
    fn fail_with(&self, code: Option<&str>) {
        self.call("failWith", &code.map_or(JsValue::UNDEFINED, JsValue::from));
    }

    /// How many times the counted `fs` function `name` was called.
    fn calls(&self, name: &str) -> u32 {
        self.call("calls", &name.into()).as_f64().expect("a count") as u32
    }

    /// `PRAGMA integrity_check` of the file `name` in the directory, by the
    /// sqlite3 CLI ("ok" when the database is intact).
    fn integrity_check(&self, name: &str) -> String {
        self.call("integrityCheck", &name.into()).as_string().expect("the CLI's output")
    }

    /// Makes `dir` the process's working directory; returns the previous one.
    fn chdir(&self, dir: &str) -> String {
        self.call("chdir", &dir.into()).as_string().expect("the previous working directory")
    }
}

impl Drop for TempHost {
    fn drop(&mut self) {
        self.call("remove", &JsValue::UNDEFINED);
    }
}

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &name.into()).expect("reading a property")
}

/// The suite opens fixed relative names (`___test_vfs_store…`), as SQLite
/// would after `full_pathname`; the temp directory is made the working
/// directory for the (synchronous) run, so they land there and nowhere else.
#[wasm_bindgen_test]
fn node_store_passes_the_rsqlite_vfs_suite() {
    let Some(temp) = TempHost::new() else { return };
    let data = VfsAppData::new(NodeVfsData::new(temp.host.clone()));
    let previous = temp.chdir(&temp.dir);
    let outcome = test_vfs_store::<NodeStore>(data);
    temp.chdir(&previous);
    if let Err(error) = outcome {
        panic!("rsqlite-vfs suite: {:?} {}", error.code(), error.message());
    }
    assert_eq!(temp.leftovers(), Vec::<String>::new(), "the suite's files are deleted");
}

/// A connection through the VFS `vfs_name`, as larder opens a file (see
/// the top of node_file.rs): WAL needs no shared memory in exclusive
/// locking mode.
fn open(vfs_name: &str, path: &str) -> Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let conn = Connection::open_with_flags_and_vfs(path, flags, vfs_name).expect("opening through the VFS");
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE").unwrap();
    conn
}

/// Switches `conn` to WAL and writes table `t`: 50 rows larger than a page,
/// so that reads and writes span several calls.
fn write_rows_in_wal(conn: &Connection) {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").unwrap();
    let row = vec![7u8; 10_000];
    for k in 0..50 {
        conn.execute("INSERT INTO t VALUES (?1, ?2)", (k, &row)).unwrap();
    }
}

/// The rows of `t` and their bytes.
fn rows_and_bytes(conn: &Connection) -> (i64, i64) {
    conn.query_row("SELECT count(*), sum(length(v)) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
}

/// SQLite through the registered VFS: a WAL database written, closed and
/// read back, a standard file with nothing but it left after a clean close,
/// which the sqlite3 CLI finds intact.
#[wasm_bindgen_test]
fn sqlite_writes_and_reads_back_a_wal_database_through_the_vfs() {
    let Some(temp) = TempHost::new() else { return };
    let vfs = NodeFileVfs::register(temp.host.clone()).expect("registering the VFS");
    let path = format!("{}/db.sqlite", temp.dir);
    let conn = open(vfs.name(), &path);
    write_rows_in_wal(&conn);
    assert!(temp.leftovers().contains(&"db.sqlite-wal".to_owned()), "a WAL while open");
    conn.close().map_err(|(_, error)| error).unwrap();

    let conn = open(vfs.name(), &path);
    assert_eq!(rows_and_bytes(&conn), (50, 500_000));
    conn.close().map_err(|(_, error)| error).unwrap();
    drop(vfs);
    assert_eq!(temp.leftovers(), ["db.sqlite"], "the WAL is checkpointed and deleted on close");
    assert_eq!(temp.integrity_check("db.sqlite"), "ok");
}

/// A WAL frame header as SQLite writes it: `commit_size` (the database's
/// size in pages after the commit) is nonzero in a commit frame only.
fn frame_header(commit_size: u32) -> Vec<u8> {
    let mut header = vec![0u8; 24];
    header[0..4].copy_from_slice(&1u32.to_be_bytes());
    header[4..8].copy_from_slice(&commit_size.to_be_bytes());
    header
}

const PAGE: usize = 4096;

/// A `DiskFile` on a new file of `temp`'s directory, buffered (as a WAL or a
/// database) or not (a journal), and its descriptor (to see what is on disk
/// through the host).
fn disk_file(temp: &TempHost, name: &str, buffered: bool) -> (DiskFile, Fd) {
    let host = &temp.host;
    let path = format!("{}/{name}", temp.dir);
    let fd = host.open(&path, host.flags.read_write | host.flags.create).expect("creating the file");
    (DiskFile::new(host.clone(), fd, path, false, buffered), fd)
}

/// Writes one frame (header, then page) at `offset`; returns the offset after it.
fn write_frame(file: &mut DiskFile, offset: u64, commit_size: u32, fill: u8) -> VfsResult<u64> {
    file.write(&frame_header(commit_size), offset)?;
    file.write(&[fill; PAGE], offset + 24)?;
    Ok(offset + 24 + PAGE as u64)
}

#[wasm_bindgen_test]
fn a_wal_commit_reaches_the_file_in_one_write_when_its_commit_frame_is_complete() {
    let Some(temp) = TempHost::new() else { return };
    let (mut wal, fd) = disk_file(&temp, "db-wal", true);
    wal.write(&[0xAB; 32], 0).unwrap();
    let mut end = 32;
    for fill in 1..=3 {
        end = write_frame(&mut wal, end, 0, fill).unwrap();
    }
    assert_eq!(temp.calls("writeSync"), 0, "frames before the commit frame are held");
    assert_eq!(temp.host.size(fd).unwrap(), 0, "nothing on disk yet");
    assert_eq!(wal.size().unwrap(), end, "SQLite sees the size it wrote");
    wal.write(&frame_header(9), end).unwrap();
    assert_eq!(temp.calls("writeSync"), 0, "the commit frame's header alone is held");
    end += 24;
    wal.write(&[4; PAGE], end).unwrap();
    end += PAGE as u64;
    assert_eq!(temp.calls("writeSync"), 1, "the whole commit in one write");
    assert_eq!(temp.host.size(fd).unwrap(), end, "the commit is in the file when the write returns");
    let mut page = vec![0u8; PAGE];
    wal.read(&mut page, end - PAGE as u64).unwrap();
    assert_eq!(page, vec![4; PAGE]);
    // SQLite fixing checksums at the end of a commit: reads the commit frame
    // back, writes its header again, and reports the commit.
    let commit_frame = end - (24 + PAGE) as u64;
    wal.read(&mut vec![0u8; 24 + PAGE], commit_frame).unwrap();
    let mut rewritten = frame_header(9);
    rewritten[16..24].copy_from_slice(&[0xCC; 8]);
    wal.write(&rewritten, commit_frame).unwrap();
    assert_eq!(temp.calls("writeSync"), 2, "the rewritten header is written at once");
    let mut on_disk = vec![0u8; 24];
    temp.host.read_at(fd, &mut on_disk, commit_frame).unwrap();
    assert_eq!(on_disk, rewritten);
    wal.close().unwrap();
}

#[wasm_bindgen_test]
fn a_read_of_buffered_frames_sees_them_and_a_journal_is_written_through() {
    let Some(temp) = TempHost::new() else { return };
    let (mut wal, _) = disk_file(&temp, "db-wal", true);
    let end = write_frame(&mut wal, 32, 0, 7).unwrap();
    let mut bytes = vec![0u8; 8];
    assert_eq!(wal.read(&mut bytes, end - 8).unwrap(), 8);
    assert_eq!((bytes, temp.calls("writeSync")), (vec![7; 8], 1), "read after one write of the frame");
    let mut header = vec![0u8; 24];
    wal.read(&mut header, 32).unwrap();
    assert_eq!(header, frame_header(0));

    let (mut journal, fd) = disk_file(&temp, "db-journal", false);
    journal.write(&[5; PAGE], 0).unwrap();
    assert_eq!((temp.calls("writeSync"), temp.host.size(fd).unwrap()), (2, PAGE as u64), "no buffer");
    wal.close().unwrap();
    journal.close().unwrap();
}

/// A checkpoint copying pages into the database: adjacent ones in one
/// write, each run written before the next, all of them at the sync.
#[wasm_bindgen_test]
fn a_database_files_adjacent_pages_are_written_together_by_the_sync() {
    let Some(temp) = TempHost::new() else { return };
    let (mut db, fd) = disk_file(&temp, "db", true);
    for page in [0u64, 1, 2, 7, 8] {
        db.write(&[page as u8 + 1; PAGE], page * PAGE as u64).unwrap();
    }
    assert_eq!(temp.calls("writeSync"), 1, "pages 0-2 went out when page 7 came");
    assert_eq!(db.size().unwrap(), 9 * PAGE as u64);
    db.sync().unwrap();
    assert_eq!(temp.calls("writeSync"), 2, "pages 7-8 at the sync");
    assert_eq!(temp.host.size(fd).unwrap(), 9 * PAGE as u64);
    let mut page = vec![0u8; PAGE];
    db.read(&mut page, 8 * PAGE as u64).unwrap();
    assert_eq!(page, vec![9; PAGE]);
    db.close().unwrap();
}

#[wasm_bindgen_test]
fn a_write_that_does_not_continue_the_buffer_writes_it_out_first() {
    let Some(temp) = TempHost::new() else { return };
    let (mut wal, fd) = disk_file(&temp, "db-wal", true);
    let end = write_frame(&mut wal, 32, 0, 1).unwrap();
    // SQLite rewriting a page of the same transaction in place: held.
    wal.write(&[2; PAGE], 56).unwrap();
    assert_eq!(temp.calls("writeSync"), 0);
    wal.write(&[3; 16], end + 100).unwrap();
    assert_eq!(temp.calls("writeSync"), 1, "the gap wrote out the buffer");
    assert_eq!(temp.host.size(fd).unwrap(), end);
    let mut page = vec![0u8; PAGE];
    wal.read(&mut page, 56).unwrap();
    assert_eq!(page, vec![2; PAGE], "the rewrite replaced the buffered page");
    // A transaction bigger than the buffer's limit goes out in runs.
    let mut offset = 1 << 16;
    while offset < 3 << 20 {
        offset = write_frame(&mut wal, offset, 0, 9).unwrap();
    }
    let writes = temp.calls("writeSync");
    assert!((3..=5).contains(&writes), "3 MiB of frames in runs of about 1 MiB ({writes} writes)");
    wal.close().unwrap();
}

#[wasm_bindgen_test]
fn the_size_is_asked_of_the_host_once_and_kept_exact() {
    let Some(temp) = TempHost::new() else { return };
    let (mut db, fd) = disk_file(&temp, "db-journal", false);
    assert_eq!(db.size().unwrap(), 0);
    db.write(&[1; PAGE], 0).unwrap();
    db.write(&[1; 100], 3 * PAGE as u64).unwrap();
    assert_eq!(db.size().unwrap(), 3 * PAGE as u64 + 100);
    db.truncate(PAGE as u64).unwrap();
    assert_eq!(db.size().unwrap(), PAGE as u64);
    db.truncate(PAGE as u64).unwrap();
    assert_eq!(temp.calls("fstatSync"), 1, "one fstat, at the first size()");
    assert_eq!(temp.calls("ftruncateSync"), 1, "a truncate to the current size is skipped");
    assert_eq!(temp.host.size(fd).unwrap(), PAGE as u64, "the file agrees");
    db.close().unwrap();
}

/// Each way a buffered WAL write can reach the file, for `fail_on` to fail.
const FLUSH_TRIGGERS: [&str; 6] = ["commit", "read", "gap", "sync", "truncate", "close"];

/// Buffers a frame (and a commit frame's header for "commit") in a new WAL,
/// then makes `how` write the buffer out while the host fails with `errno`.
fn trigger_flush(temp: &TempHost, how: &str, errno: &str) -> VfsResult<()> {
    let (mut wal, fd) = disk_file(temp, &format!("{how}-{errno}-wal"), true);
    let end = write_frame(&mut wal, 32, 0, 1).unwrap();
    let commit_header_end = if how == "commit" { end + 24 } else { end };
    if how == "commit" {
        wal.write(&frame_header(2), end).unwrap();
    }
    temp.fail_with(Some(errno));
    if how == "close" {
        let outcome = wal.close();
        temp.fail_with(None);
        return outcome;
    }
    let outcome = match how {
        "commit" => wal.write(&[2; PAGE], commit_header_end),
        "read" => wal.read(&mut [0u8; 10], 40).map(drop),
        "gap" => wal.write(&[3; 10], end + 1),
        "sync" => wal.sync(),
        _ => wal.truncate(0),
    };
    temp.fail_with(None);
    // The size is asked again: the write may have landed in part.
    assert_eq!(wal.size().unwrap(), temp.host.size(fd).unwrap(), "{how}: the size is the file's");
    wal.close().expect("the buffer was dropped: nothing left to fail");
    outcome
}

#[wasm_bindgen_test]
fn a_failed_write_of_the_buffer_fails_the_call_that_made_it_with_the_write_error() {
    let Some(temp) = TempHost::new() else { return };
    for how in FLUSH_TRIGGERS {
        for (errno, code) in [("EIO", VfsErrorCode::IoWrite), ("ENOSPC", VfsErrorCode::Full)] {
            let calls = temp.calls("writeSync");
            let outcome = trigger_flush(&temp, how, errno);
            let error = outcome.expect_err(&format!("{how}, {errno}: the call fails"));
            assert_eq!(error.code(), code, "{how}, {errno}: {}", error.message());
            assert!(error.message().contains(errno), "{how}: the message names {errno}");
            assert_eq!(temp.calls("writeSync"), calls + 1, "{how}, {errno}: one write, failed, not repeated");
        }
    }
}

/// `JoinedWritesVfs` (the OPFS store's, joined_writes.rs) around
/// `NodeFileVfs`, whose host can fail: SQLite through it writes a WAL
/// database, reads it back after a reopen and leaves it intact.
#[wasm_bindgen_test]
fn a_database_written_through_the_joined_writes_vfs_reads_back_intact() {
    let Some(temp) = TempHost::new() else { return };
    let inner = NodeFileVfs::register(temp.host.clone()).expect("registering the VFS");
    let joined = JoinedWritesVfs::register("joined-round-trip", inner.name()).expect("registering around it");
    let path = format!("{}/joined.sqlite", temp.dir);
    let conn = open("joined-round-trip", &path);
    write_rows_in_wal(&conn);
    conn.execute("DELETE FROM t WHERE k >= 40", []).unwrap();
    conn.close().map_err(|(_, error)| error).unwrap();

    let conn = open("joined-round-trip", &path);
    assert_eq!(rows_and_bytes(&conn), (40, 400_000));
    conn.close().map_err(|(_, error)| error).unwrap();
    drop(joined);
    drop(inner);
    assert_eq!(temp.leftovers(), ["joined.sqlite"], "the WAL is checkpointed and deleted on close");
    assert_eq!(temp.integrity_check("joined.sqlite"), "ok");
}

/// A commit the inner VFS fails (a full disk: the Node file's own buffer
/// takes the joined write, and its write fails at the commit's sync, as
/// synchronous is FULL by default) fails with the inner VFS's code through
/// the joined one, leaves nothing of it, and the database goes on. The
/// joined file's own failed write is checked in joined_writes.rs.
#[wasm_bindgen_test]
fn a_write_the_inner_vfs_refuses_fails_the_commit_with_its_code() {
    let Some(temp) = TempHost::new() else { return };
    let inner = NodeFileVfs::register(temp.host.clone()).expect("registering the VFS");
    let joined = JoinedWritesVfs::register("joined-full-disk", inner.name()).expect("registering around it");
    let conn = open("joined-full-disk", &format!("{}/full.sqlite", temp.dir));
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB); INSERT INTO t VALUES (1, x'01');")
        .unwrap();

    temp.fail_with(Some("ENOSPC"));
    let refused = conn.execute("INSERT INTO t VALUES (2, ?1)", [vec![2u8; 10_000]]);
    temp.fail_with(None);
    let code = refused.expect_err("the commit fails").sqlite_error_code();
    assert_eq!(code, Some(rusqlite::ErrorCode::DiskFull));

    conn.execute("INSERT INTO t VALUES (3, x'03')", []).expect("the database goes on");
    let keys: Vec<i64> = conn
        .prepare("SELECT k FROM t ORDER BY k")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(keys, [1, 3], "nothing of the failed commit");
    conn.close().map_err(|(_, error)| error).unwrap();
    drop(joined);
    drop(inner);
    assert_eq!(temp.integrity_check("full.sqlite"), "ok");
}

#[wasm_bindgen_test]
fn the_joined_writes_vfs_needs_the_vfs_it_wraps() {
    let error = JoinedWritesVfs::register("joined-orphan", "no-such-vfs").err().expect("refused");
    assert!(error.contains("no-such-vfs"), "{error}");
}
