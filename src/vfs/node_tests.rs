//! `NodeFileVfs` against real files: rsqlite-vfs's own VFS checks
//! (`test_suite::test_vfs_store`) on `NodeStore`, and SQLite through the
//! registered VFS. Node only: in a browser there is no `node:fs`, and each
//! test says so and passes without checking anything.

use std::rc::Rc;

use js_sys::Reflect;
use rusqlite::{Connection, OpenFlags};
use sqlite_wasm_rs::vfs::test_suite::test_vfs_store;
use sqlite_wasm_rs::vfs::VfsAppData;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

use super::node_file::{NodeFileVfs, NodeStore, NodeVfsData};
use super::node_host::NodeHost;

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
    function atView(fsFunction, fd, memory, ptr, len, position) {
        return fsFunction.call(this, fd, new Uint8Array(memory.buffer, ptr, len), 0, len, position);
    }
    const host = {
        fs,
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
    return { dir, host, leftovers, chdir, remove };
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

fn open(vfs: &NodeFileVfs, path: &str) -> Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    Connection::open_with_flags_and_vfs(path, flags, vfs.name()).expect("opening through NodeFileVfs")
}

/// SQLite through the registered VFS: a WAL database written, closed and
/// read back, a standard file with nothing but it left after a clean close.
#[wasm_bindgen_test]
fn sqlite_writes_and_reads_back_a_wal_database_through_the_vfs() {
    let Some(temp) = TempHost::new() else { return };
    let vfs = NodeFileVfs::register(temp.host.clone()).expect("registering the VFS");
    let path = format!("{}/db.sqlite", temp.dir);
    let conn = open(&vfs, &path);
    // As larder opens a file (see the top of node_file.rs): WAL needs no
    // shared memory in exclusive locking mode.
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE").unwrap();
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").unwrap();
    // Rows larger than a page, so that reads and writes span several calls.
    let row = vec![7u8; 10_000];
    for k in 0..50 {
        conn.execute("INSERT INTO t VALUES (?1, ?2)", (k, &row)).unwrap();
    }
    assert!(temp.leftovers().contains(&"db.sqlite-wal".to_owned()), "a WAL while open");
    conn.close().map_err(|(_, error)| error).unwrap();

    let conn = open(&vfs, &path);
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE").unwrap();
    let (count, bytes): (i64, i64) =
        conn.query_row("SELECT count(*), sum(length(v)) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((count, bytes), (50, 500_000));
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    conn.close().map_err(|(_, error)| error).unwrap();
    drop(vfs);
    assert_eq!(temp.leftovers(), ["db.sqlite"], "the WAL is checkpointed and deleted on close");
}
