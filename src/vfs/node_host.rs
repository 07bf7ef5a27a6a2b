//! The Node host: file I/O through the synchronous functions of the `fs`
//! option (default `node:fs`) and the few process facts file storage needs,
//! all passed in by the Node facade. Every call catches what the host throws
//! and returns it as an `FsError` with the errno code (`EIO`, `ENOSPC` …).
//!
//! Which `fs` functions there are is the facade's list (`js/fs-functions.ts`),
//! handed over with the host; this module refuses an `fs` lacking any of them.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Result, StorageError};

/// A failed host call: the errno code Node reports, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsError {
    pub code: String,
    pub message: String,
}

impl FsError {
    fn from_thrown(thrown: JsValue) -> FsError {
        let field = |name: &str| Reflect::get(&thrown, &name.into()).ok().and_then(|value| value.as_string());
        FsError {
            code: field("code").unwrap_or_default(),
            message: field("message").unwrap_or_else(|| "the fs call threw a non-Error value".into()),
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }

    /// The disk or quota is full.
    pub fn is_full(&self) -> bool {
        matches!(self.code.as_str(), "ENOSPC" | "EDQUOT")
    }

    /// The failure as the store reports it: QUOTA_EXCEEDED when the disk or
    /// quota is full, IO otherwise. `message` says what was being done.
    pub fn storage_error(&self, message: String) -> StorageError {
        match self.is_full() {
            true => StorageError::QuotaExceeded(message),
            false => StorageError::Io(message),
        }
    }
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type FsResult<T> = std::result::Result<T, FsError>;

#[wasm_bindgen]
extern "C" {
    /// The facade's `atView(fsFunction, fd, memory, ptr, len, position)`
    /// (js/node.ts), which returns the count its `fs` function reports, or 0
    /// if that is not a number. Typed, so that its numbers cross as numbers:
    /// one call into JS per read or write, where `Function::apply` took one
    /// to build the array and one more per argument.
    #[wasm_bindgen(js_name = Function)]
    type AtView;

    #[wasm_bindgen(method, catch, js_name = call)]
    fn call(
        this: &AtView,
        fs: &JsValue,
        fs_function: &Function,
        fd: f64,
        memory: &JsValue,
        ptr: u32,
        len: u32,
        position: f64,
    ) -> std::result::Result<f64, JsValue>;
}

/// A file descriptor as Node numbers them.
pub type Fd = f64;

/// `open` flags, from the facade's `fs.constants`.
#[derive(Debug, Clone, Copy)]
pub struct OpenFlags {
    pub read_only: u32,
    pub read_write: u32,
    pub create: u32,
    pub exclusive: u32,
}

pub struct NodeHost {
    fs: JsValue,
    /// This instance's `WebAssembly.Memory`, for `at_view`.
    memory: JsValue,
    at_view: AtView,
    open: Function,
    close: Function,
    read: Function,
    write: Function,
    fsync: Function,
    ftruncate: Function,
    fstat: Function,
    stat: Function,
    unlink: Function,
    mkdir: Function,
    pub flags: OpenFlags,
    resolve_path: Function,
    dirname: Function,
    temp_path: Function,
    acquire_lock: Function,
}

/// The facade's hold on a database file (js/ownership.ts): exclusive across
/// processes while it lasts.
pub struct HostLock {
    lock: JsValue,
    confirm: Function,
    release: Function,
}

/// Codes with which a host says it cannot fsync a directory at all (Windows
/// cannot open one; some file systems refuse the call): nothing to be done.
const DIR_SYNC_UNSUPPORTED: [&str; 5] = ["EISDIR", "EINVAL", "EPERM", "EACCES", "ENOTSUP"];

fn function(object: &JsValue, name: &str, what: &str) -> Result<Function> {
    Reflect::get(object, &name.into())
        .ok()
        .and_then(|value| value.dyn_into::<Function>().ok())
        .ok_or_else(|| StorageError::InvalidArgument(format!("{what}.{name} must be a function")))
}

fn number(object: &JsValue, name: &str) -> Result<f64> {
    Reflect::get(object, &name.into())
        .ok()
        .and_then(|value| value.as_f64())
        .ok_or_else(|| StorageError::Internal(format!("the Node host lacks the number {name}")))
}

/// The `fs` the facade passes: an object with every function of its list
/// `fsFunctions` (the ones it bound), or INVALID_ARGUMENT naming the first
/// one missing.
fn checked_fs(host: &JsValue) -> Result<JsValue> {
    let fs = Reflect::get(host, &"fs".into()).unwrap_or(JsValue::UNDEFINED);
    if !fs.is_object() {
        return Err(StorageError::InvalidArgument("option fs must be an object of node:fs functions".into()));
    }
    let names = Reflect::get(host, &"fsFunctions".into())
        .ok()
        .filter(Array::is_array)
        .ok_or_else(|| StorageError::Internal("the Node host lacks its list fsFunctions".into()))?;
    for name in Array::from(&names).iter() {
        let name = name
            .as_string()
            .ok_or_else(|| StorageError::Internal("fsFunctions holds a non-string".into()))?;
        function(&fs, &name, "option fs")?;
    }
    Ok(fs)
}

impl NodeHost {
    /// Reads the host object the Node facade builds (`fileHost` in
    /// js/node.ts): `{ fs, fsFunctions, atView, flags, resolvePath, dirname,
    /// tempPath, acquireLock }`.
    pub fn from_js(host: &JsValue) -> Result<NodeHost> {
        let fs = checked_fs(host)?;
        let fs_function = |name: &str| function(&fs, name, "option fs");
        let host_function = |name: &str| {
            function(host, name, "the Node host").map_err(|error| StorageError::Internal(error.to_string()))
        };
        let flags = Reflect::get(host, &"flags".into()).unwrap_or(JsValue::UNDEFINED);
        Ok(NodeHost {
            memory: wasm_bindgen::memory(),
            at_view: host_function("atView")?.unchecked_into(),
            open: fs_function("openSync")?,
            close: fs_function("closeSync")?,
            read: fs_function("readSync")?,
            write: fs_function("writeSync")?,
            fsync: fs_function("fsyncSync")?,
            ftruncate: fs_function("ftruncateSync")?,
            fstat: fs_function("fstatSync")?,
            stat: fs_function("statSync")?,
            unlink: fs_function("unlinkSync")?,
            mkdir: fs_function("mkdirSync")?,
            flags: OpenFlags {
                read_only: number(&flags, "O_RDONLY")? as u32,
                read_write: number(&flags, "O_RDWR")? as u32,
                create: number(&flags, "O_CREAT")? as u32,
                exclusive: number(&flags, "O_EXCL")? as u32,
            },
            resolve_path: host_function("resolvePath")?,
            dirname: host_function("dirname")?,
            temp_path: host_function("tempPath")?,
            acquire_lock: host_function("acquireLock")?,
            fs,
        })
    }

    fn call(&self, function: &Function, args: &[JsValue]) -> FsResult<JsValue> {
        let args: js_sys::Array = args.iter().collect();
        function.apply(&self.fs, &args).map_err(FsError::from_thrown)
    }

    pub fn open(&self, path: &str, flags: u32) -> FsResult<Fd> {
        let fd = self.call(&self.open, &[path.into(), flags.into(), 0o644.into()])?;
        fd.as_f64().ok_or_else(|| FsError {
            code: "EBADF".into(),
            message: "openSync returned no descriptor".into(),
        })
    }

    pub fn close(&self, fd: Fd) -> FsResult<()> {
        self.call(&self.close, &[fd.into()]).map(drop)
    }

    /// Calls `fs_function(fd, view, 0, len, position)`, the view covering
    /// wasm memory from `ptr` to `ptr + len`, and returns the byte count it
    /// reports (at most `len`).
    ///
    /// Why the view is made in JS (`atView` in js/node.ts), inside the call,
    /// from `(ptr, len)`: a `Uint8Array` over wasm memory is detached when
    /// the memory grows, and anything that allocates between making a view
    /// and using it (marshalling the other arguments, say) may grow it. Made
    /// from `memory.buffer` once every argument has crossed, the view is
    /// handed straight to the synchronous `fs` call, which runs no code of
    /// this instance (an `fs` option that called back into the store would
    /// re-enter an operation in progress, which nothing supports), so the
    /// memory cannot grow while the view is in use. No `unsafe` is needed on
    /// this side: Rust lends the bytes by holding the borrow of the slice
    /// `ptr` points into until the call returns.
    fn at_view(
        &self,
        fs_function: &Function,
        fd: Fd,
        ptr: *const u8,
        len: usize,
        position: u64,
    ) -> FsResult<usize> {
        let count = self
            .at_view
            .call(&self.fs, fs_function, fd, &self.memory, ptr as usize as u32, len as u32, position as f64)
            .map_err(FsError::from_thrown)?;
        // A negative, fractional or oversized count from an `fs` option is
        // clamped (NaN becomes 0): the caller never indexes past what it lent.
        Ok(count.clamp(0.0, len as f64) as usize)
    }

    /// Reads at `offset` until `buf` is full or the file ends; returns the
    /// number of bytes read.
    pub fn read_at(&self, fd: Fd, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        let mut done = 0;
        while done < buf.len() {
            // `rest` stays mutably borrowed, so untouched by Rust, while the
            // host writes into it (see `at_view`).
            let rest = &mut buf[done..];
            let position = offset + done as u64;
            match self.at_view(&self.read, fd, rest.as_mut_ptr(), rest.len(), position)? {
                0 => break,
                count => done += count,
            }
        }
        Ok(done)
    }

    /// Writes all of `buf` at `offset`.
    pub fn write_at(&self, fd: Fd, buf: &[u8], offset: u64) -> FsResult<()> {
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            let position = offset + done as u64;
            match self.at_view(&self.write, fd, rest.as_ptr(), rest.len(), position)? {
                0 => return Err(FsError { code: "EIO".into(), message: "writeSync wrote nothing".into() }),
                count => done += count,
            }
        }
        Ok(())
    }

    pub fn fsync(&self, fd: Fd) -> FsResult<()> {
        self.call(&self.fsync, &[fd.into()]).map(drop)
    }

    pub fn truncate(&self, fd: Fd, size: u64) -> FsResult<()> {
        self.call(&self.ftruncate, &[fd.into(), (size as f64).into()]).map(drop)
    }

    pub fn size(&self, fd: Fd) -> FsResult<u64> {
        let stats = self.call(&self.fstat, &[fd.into()])?;
        Ok(Reflect::get(&stats, &"size".into()).ok().and_then(|size| size.as_f64()).unwrap_or(0.0) as u64)
    }

    pub fn exists(&self, path: &str) -> FsResult<bool> {
        match self.call(&self.stat, &[path.into()]) {
            Ok(_) => Ok(true),
            Err(error) if error.is("ENOENT") => Ok(false),
            Err(error) => Err(error),
        }
    }

    pub fn unlink(&self, path: &str) -> FsResult<()> {
        self.call(&self.unlink, &[path.into()]).map(drop)
    }

    /// Creates `dir` and its parents if missing.
    pub fn make_dirs(&self, dir: &str) -> FsResult<()> {
        let options = js_sys::Object::new();
        let _ = Reflect::set(&options, &"recursive".into(), &true.into());
        self.call(&self.mkdir, &[dir.into(), options.into()]).map(drop)
    }

    /// Makes a directory entry change (a created or deleted file) durable.
    /// As SQLite's unix VFS does, a host that cannot (the directory does not
    /// open, or fsync of a directory is refused) is not an error; a failing
    /// fsync (EIO, a full disk) is. Closing a read-only descriptor loses
    /// nothing, so its failure is ignored.
    pub fn sync_dir(&self, dir: &str) -> FsResult<()> {
        let Ok(fd) = self.open(dir, self.flags.read_only) else { return Ok(()) };
        let synced = self.fsync(fd);
        let _ = self.close(fd);
        match synced {
            Err(error) if !DIR_SYNC_UNSUPPORTED.contains(&error.code.as_str()) => Err(error),
            _ => Ok(()),
        }
    }

    /// Host helpers that cannot fail in a way larder could act on.
    fn helper(&self, function: &Function, arg: &JsValue) -> JsValue {
        function.call1(&JsValue::UNDEFINED, arg).unwrap_or(JsValue::UNDEFINED)
    }

    pub fn resolve_path(&self, path: &str) -> String {
        self.helper(&self.resolve_path, &path.into()).as_string().unwrap_or_else(|| path.to_owned())
    }

    pub fn dirname(&self, path: &str) -> String {
        self.helper(&self.dirname, &path.into()).as_string().unwrap_or_else(|| ".".into())
    }

    /// A fresh path for a `":temp:"` database under the OS temp directory.
    pub fn temp_path(&self) -> String {
        self.helper(&self.temp_path, &JsValue::UNDEFINED).as_string().unwrap_or_default()
    }

    /// Takes the ownership lock of the database at `db_path` (absolute).
    pub async fn acquire_lock(&self, db_path: &str) -> Result<HostLock> {
        let acquired = self
            .acquire_lock
            .call1(&JsValue::UNDEFINED, &db_path.into())
            .and_then(|promise| promise.dyn_into::<Promise>());
        let lock = match acquired {
            Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await,
            Err(thrown) => Err(thrown),
        }
        .map_err(|thrown| lock_error(FsError::from_thrown(thrown)))?;
        let method = |name| {
            function(&lock, name, "the ownership lock")
                .map_err(|error| StorageError::Internal(error.to_string()))
        };
        Ok(HostLock { confirm: method("confirm")?, release: method("release")?, lock })
    }
}

/// Why the facade could not take a lock: held by another store, a full disk,
/// or a failed file call.
fn lock_error(error: FsError) -> StorageError {
    match error.is("LOCKED") {
        true => StorageError::LockedByProcess(error.message),
        false => error.storage_error(error.message.clone()),
    }
}

impl HostLock {
    /// Before each operation: LOCKED if the file is no longer this store's.
    pub fn confirm(&self) -> Result<()> {
        match self.confirm.call0(&self.lock).map(|why| why.as_string()) {
            Ok(None) => Ok(()),
            Ok(Some(why)) => Err(StorageError::LockedByProcess(why)),
            Err(thrown) => Err(StorageError::Internal(format!("the ownership lock failed: {thrown:?}"))),
        }
    }

    /// Stops holding the file (removing the lock file if still this store's).
    pub fn release(self) {
        let _ = self.release.call0(&self.lock);
    }
}
