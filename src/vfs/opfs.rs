//! Browser storage: a database in the origin private file system through the
//! `sahpool` VFS of sqlite-wasm-vfs, which needs a dedicated worker. Each
//! database name gets its own pool (its own OPFS directory and VFS name), so
//! stores of different names never contend; a Web Lock on the name makes a
//! second tab or worker get `LOCKED` instead of fighting over its handles.
//! The connection opens the database through a `JoinedWritesVfs` around the
//! pool's VFS, so that a WAL commit reaches OPFS in one write.

use std::cell::RefCell;

use futures_channel::oneshot;
use js_sys::{Function, Object, Promise, Reflect};
use sqlite_wasm_rs::vfs::VfsFilesManager;
use sqlite_wasm_rs::WasmOsCallback;
use sqlite_wasm_vfs::sahpool::{self, OpfsSAHError, OpfsSAHPoolCfgBuilder, OpfsSAHPoolUtil};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use larder_core::database::Backing;
use larder_core::error::{Result, StorageError};

use super::joined_writes::JoinedWritesVfs;

/// The database file inside its pool.
pub const DB_FILE: &str = "/larder.sqlite";
const COMPANIONS: [&str; 3] = [DB_FILE, "/larder.sqlite-wal", "/larder.sqlite-journal"];
/// Longest OPFS name larder accepts (its hex form names a directory).
const MAX_NAME_BYTES: usize = 100;

thread_local! {
    /// Removals of disposed temporary pools still under way; `dispose()`
    /// waits for them (see `take_pending_cleanups`).
    static PENDING_CLEANUPS: RefCell<Vec<Promise>> = const { RefCell::new(Vec::new()) };
}

/// The cleanups started by closing temporary databases, handed over once.
pub fn take_pending_cleanups() -> Vec<Promise> {
    PENDING_CLEANUPS.with(|pending| pending.take())
}

pub struct OpfsDatabase {
    pool: OpfsSAHPoolUtil,
    /// The pool's directory under `.larder/`.
    id: String,
    /// The VFS the connection opens: `joined`, around the pool's.
    vfs_name: String,
    /// Unregistered when released (before the pool's VFS it wraps).
    joined: Option<JoinedWritesVfs>,
    /// Resolving it ends the Web Lock held since open.
    release_lock: Option<Function>,
    temporary: bool,
}

impl OpfsDatabase {
    /// Takes the Web Lock of `name` (a fresh random name for `":temp:"`) and
    /// installs its pool. `LOCKED` if another tab or worker holds it;
    /// `UNSUPPORTED` outside a dedicated worker with OPFS.
    pub async fn open(name: Option<&str>) -> Result<OpfsDatabase> {
        let temporary = name.is_none();
        let name = name.map_or_else(|| format!(":temp:{}", random_hex()), str::to_owned);
        if name.len() > MAX_NAME_BYTES {
            return Err(StorageError::InvalidArgument(format!(
                "option path: an OPFS name is at most {MAX_NAME_BYTES} bytes"
            )));
        }
        let id = hex(name.as_bytes());
        let release_lock = web_lock(&format!("larder:{name}")).await?;
        let pool_vfs_name = format!("larder-opfs-pool-{id}");
        let config =
            OpfsSAHPoolCfgBuilder::new().vfs_name(&pool_vfs_name).directory(&format!(".larder/{id}")).build();
        let pool = match sahpool::install::<WasmOsCallback>(&config, false).await {
            Ok(pool) => pool,
            Err(error) => {
                release(release_lock);
                return Err(classify(error));
            }
        };
        let vfs_name = format!("larder-opfs-{id}");
        let joined = JoinedWritesVfs::register(&vfs_name, &pool_vfs_name).map_err(StorageError::Internal);
        let mut database = OpfsDatabase { pool, id, vfs_name, joined: None, release_lock, temporary };
        match joined {
            Ok(joined) => {
                database.joined = Some(joined);
                Ok(database)
            }
            Err(error) => {
                Box::new(database).release();
                Err(error)
            }
        }
    }

    pub fn vfs_name(&self) -> &str {
        &self.vfs_name
    }
}

impl Backing for OpfsDatabase {
    fn is_file(&self) -> bool {
        true
    }

    /// The Web Lock cannot be lost while the worker lives.
    fn confirm_owned(&self) -> Result<()> {
        Ok(())
    }

    /// Gives the pool's handles back and ends the Web Lock; a temporary
    /// database is then removed with its whole pool directory.
    fn release(mut self: Box<Self>) {
        if self.temporary {
            for file in COMPANIONS {
                let _ = self.pool.remove(file);
            }
        }
        self.joined.take();
        // SAFETY: the store closed this pool's only connection before calling
        // close, and the VFS around it is unregistered; nothing else uses the
        // VFS or keeps pointers to it.
        let uninstalled = unsafe { self.pool.uninstall() };
        release(self.release_lock.take());
        if self.temporary && uninstalled.is_ok() {
            let id = std::mem::take(&mut self.id);
            let removal = wasm_bindgen_futures::future_to_promise(async move {
                remove_pool_directory(&id).await.map(|()| JsValue::UNDEFINED)
            });
            PENDING_CLEANUPS.with(|pending| pending.borrow_mut().push(removal));
        }
    }
}

fn classify(error: OpfsSAHError) -> StorageError {
    match error {
        OpfsSAHError::NotSupported => StorageError::Unsupported(
            "OPFS needs a dedicated worker in a secure context: use path \":memory:\" here".into(),
        ),
        OpfsSAHError::Opfs { ref message, .. } if message.contains("QuotaExceeded") => {
            StorageError::QuotaExceeded(error.to_string())
        }
        // Another context holds the file's access handles.
        OpfsSAHError::Opfs { ref message, .. } if message.contains("NoModificationAllowed") => {
            StorageError::Locked(error.to_string())
        }
        other => StorageError::Io(format!("OPFS: {other}")),
    }
}

/// Requests the Web Lock `name` if it is free, and keeps it until the
/// returned function is called. Without the Web Locks API, nothing is locked
/// (the pool's exclusive access handles still keep a second context out).
async fn web_lock(name: &str) -> Result<Option<Function>> {
    let locks = Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|navigator| Reflect::get(&navigator, &"locks".into()))
        .unwrap_or(JsValue::UNDEFINED);
    let Ok(request) = Reflect::get(&locks, &"request".into()).and_then(|r| r.dyn_into::<Function>()) else {
        return Ok(None);
    };
    let mut settle = None;
    let held = Promise::new(&mut |resolve, _| settle = Some(resolve));
    let release_lock = settle.expect("the Promise executor runs synchronously");
    let (granted_tx, granted_rx) = oneshot::channel::<bool>();
    let granted_tx = RefCell::new(Some(granted_tx));
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let granted = !lock.is_null();
        if let Some(sender) = granted_tx.borrow_mut().take() {
            let _ = sender.send(granted);
        }
        if granted {
            held.into()
        } else {
            JsValue::UNDEFINED
        }
    });
    let options = Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &true.into());
    request
        .call3(&locks, &name.into(), &options, &callback)
        .map_err(|error| StorageError::Io(format!("navigator.locks.request failed: {error:?}")))?;
    match granted_rx.await {
        Ok(true) => Ok(Some(release_lock)),
        _ => Err(StorageError::Locked(format!("{name} is held by another tab or worker"))),
    }
}

/// Deletes `.larder/<id>` from the origin private file system.
async fn remove_pool_directory(id: &str) -> std::result::Result<(), JsValue> {
    let storage = Reflect::get(&Reflect::get(&js_sys::global(), &"navigator".into())?, &"storage".into())?;
    let root = JsFuture::from(call_method(&storage, "getDirectory", &[])?).await?;
    let parent = JsFuture::from(call_method(&root, "getDirectoryHandle", &[".larder".into()])?).await?;
    let options = Object::new();
    Reflect::set(&options, &"recursive".into(), &true.into())?;
    JsFuture::from(call_method(&parent, "removeEntry", &[id.into(), options.into()])?).await?;
    Ok(())
}

/// `target[name](...args)`, expecting a promise back.
fn call_method(target: &JsValue, name: &str, args: &[JsValue]) -> std::result::Result<Promise, JsValue> {
    let method: Function = Reflect::get(target, &name.into())?.dyn_into()?;
    let args: js_sys::Array = args.iter().collect();
    method.apply(target, &args)?.dyn_into()
}

fn release(release_lock: Option<Function>) {
    if let Some(release) = release_lock {
        let _ = release.call0(&JsValue::UNDEFINED);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn random_hex() -> String {
    let mut bytes = [0u8; 12];
    for byte in &mut bytes {
        *byte = (js_sys::Math::random() * 256.0) as u8;
    }
    hex(&bytes)
}
