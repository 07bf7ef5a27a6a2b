// larder's own worker, with every FileSystemSyncAccessHandle.write counted:
// for the check that a store on OPFS writes each WAL commit in one call
// (src/vfs/joined_writes.rs). The page asks for the count on the
// BroadcastChannel named by ?channel=, and the answer comes back on it.
import "/pkg/worker.js";

const write = FileSystemSyncAccessHandle.prototype.write;
let writes = 0;
FileSystemSyncAccessHandle.prototype.write = function countedWrite(...args) {
  writes += 1;
  return write.apply(this, args);
};
const channel = new BroadcastChannel(new URL(import.meta.url).searchParams.get("channel"));
channel.onmessage = () => channel.postMessage(writes);
