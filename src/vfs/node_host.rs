//! The Node host: file I/O through the synchronous functions of the `fs`
//! option (default `node:fs`) and the few process facts file storage needs,
//! all passed in by the Node facade. Every call catches what the host throws
//! and returns it as an `FsError` with the errno code (`EIO`, `ENOSPC` …).

use js_sys::{Function, Promise, Reflect, Uint8Array};
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
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type FsResult<T> = std::result::Result<T, FsError>;

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

impl NodeHost {
    /// Reads the host object the Node facade builds: `{ fs, flags,
    /// resolvePath, dirname, tempPath, acquireLock }`.
    pub fn from_js(host: &JsValue) -> Result<NodeHost> {
        let fs = Reflect::get(host, &"fs".into()).unwrap_or(JsValue::UNDEFINED);
        if !fs.is_object() {
            return Err(StorageError::InvalidArgument(
                "option fs must be an object of node:fs functions".into(),
            ));
        }
        let fs_function = |name: &str| function(&fs, name, "option fs");
        let host_function = |name: &str| {
            function(host, name, "the Node host").map_err(|error| StorageError::Internal(error.to_string()))
        };
        let flags = Reflect::get(host, &"flags".into()).unwrap_or(JsValue::UNDEFINED);
        Ok(NodeHost {
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
        .and_then(|host| {
            // Not called from here: the facade's ownership lock reads with it.
            function(&host.fs, "readFileSync", "option fs")?;
            Ok(host)
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

    /// Reads at `offset` until `buf` is full or the file ends; returns the
    /// number of bytes read.
    pub fn read_at(&self, fd: Fd, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: the view covers exactly `rest`, which we borrow mutably
            // for the duration of the call; nothing allocates in wasm while
            // the host runs, so the memory cannot grow and detach the view.
            let view = unsafe { Uint8Array::view_mut_raw(rest.as_mut_ptr(), rest.len()) };
            let position = (offset + done as u64) as f64;
            let read = self
                .call(&self.read, &[fd.into(), view.into(), 0.into(), rest.len().into(), position.into()])?;
            match read.as_f64() {
                Some(count) if count > 0.0 => done += count as usize,
                _ => break,
            }
        }
        Ok(done)
    }

    /// Writes all of `buf` at `offset`.
    pub fn write_at(&self, fd: Fd, buf: &[u8], offset: u64) -> FsResult<()> {
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            // SAFETY: as in `read_at`; the host only reads through the view.
            let view = unsafe { Uint8Array::view(rest) };
            let position = (offset + done as u64) as f64;
            let written = self
                .call(&self.write, &[fd.into(), view.into(), 0.into(), rest.len().into(), position.into()])?;
            match written.as_f64() {
                Some(count) if count > 0.0 => done += count as usize,
                _ => return Err(FsError { code: "EIO".into(), message: "writeSync wrote nothing".into() }),
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
    pub fn sync_dir(&self, dir: &str) -> FsResult<()> {
        let fd = self.open(dir, self.flags.read_only)?;
        let synced = self.fsync(fd);
        let closed = self.close(fd);
        synced.and(closed)
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
    if error.is("LOCKED") {
        StorageError::LockedByProcess(error.message)
    } else if error.is_full() {
        StorageError::QuotaExceeded(error.message)
    } else {
        StorageError::Io(error.message)
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
