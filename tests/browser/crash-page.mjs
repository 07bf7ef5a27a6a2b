// The page's half of the browser crash test (crash.mjs drives it through
// crash.html): reads the raw OPFS files of a store before it is opened, opens
// the store and reads every entry back, and writes until the browser is
// killed (or until told to stop and dispose the store), reporting each write
// through the binding `larderCrashReport` before issuing it and again once it
// is acknowledged. Values are compared as `encode` text on the Node side.
// Nothing runs on import.

import { seededRandom } from "../js/seeded-random.mjs";

/** Where the sahpool VFS keeps a store's files (src/vfs/opfs.rs): .larder/<hex of the name>/.opaque/. */
export const POOL_PREFIX = ".larder";
/** sahpool slot layout: a 512-byte NUL-padded name, 4-byte big-endian open flags, database bytes from 4096. */
const NAME_BYTES = 512;
const DATA_OFFSET = 4096;
const SQLITE_OPEN_DELETEONCLOSE = 0x8;

const KEY_POOL = 300;

/** A value as comparable text: object keys sorted, a Uint8Array as {"$bytes": base64}. */
export function encode(value) {
  return JSON.stringify(value, function (key, item) {
    const raw = this[key];
    if (raw instanceof Uint8Array) return { $bytes: base64(raw) };
    if (item && typeof item === "object" && !Array.isArray(item)) {
      return Object.fromEntries(Object.keys(item).sort().map((name) => [name, item[name]]));
    }
    return item;
  });
}

function base64(bytes) {
  let binary = "";
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}

function hex(text) {
  return [...new TextEncoder().encode(text)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The store's pool as OPFS holds it, read with the File System Access API
 * while no store has it open: each slot's name (its SQLite path, "" if
 * free) and, for a named slot, its database bytes in base64.
 */
export async function exportPool(name) {
  let dir = await navigator.storage.getDirectory();
  try {
    for (const part of [POOL_PREFIX, hex(name), ".opaque"]) dir = await dir.getDirectoryHandle(part);
  } catch (error) {
    if (error?.name === "NotFoundError") return { found: false, slots: [] };
    throw error;
  }
  const slots = [];
  for await (const [slot, handle] of dir.entries()) {
    if (handle.kind !== "file") continue;
    const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
    const header = bytes.subarray(0, NAME_BYTES);
    const end = header.indexOf(0);
    const flags = bytes.length >= NAME_BYTES + 4 ? new DataView(bytes.buffer).getUint32(NAME_BYTES) : 0;
    const path =
      end > 0 && !(flags & SQLITE_OPEN_DELETEONCLOSE) ? new TextDecoder().decode(header.subarray(0, end)) : "";
    slots.push({ slot, path, size: bytes.length, data: path ? base64(bytes.subarray(DATA_OFFSET)) : "" });
  }
  return { found: true, slots };
}

let store;

/** Opens the OPFS store `name` (durability "full") and reads every entry: [key, encode(value)] and count(). */
export async function openAndRead(name) {
  const { openStorage } = await import("/pkg/browser.js");
  store = await openStorage({ path: name, durability: "full" });
  const keys = await store.keys();
  const values = await store.mget(keys);
  return { entries: keys.map((key, index) => [key, encode(values[index])]), count: await store.count() };
}

export async function dispose() {
  await store.dispose();
  store = undefined;
}

let stopping = false;
let writing = Promise.resolve();

/** Ends writeForever after the writes under way, then disposes the store (which checkpoints the WAL). */
export async function stopAndDispose() {
  stopping = true;
  await writing;
  await dispose();
}

/**
 * Writes sets and msets on the open store until the page dies or
 * stopAndDispose is called: one at a time
 * or a few at once (then they share the queue and may commit as a group).
 * Each write is reported ("begin", awaited, so Node knows it before it can
 * commit) and acknowledged ("ack", once its promise resolved), numbered from
 * 0 in begin order.
 */
export function writeForever(seed) {
  writing = writeUntilStopped(seed);
  return writing;
}

async function writeUntilStopped(seed) {
  const report = window.larderCrashReport;
  const random = seededRandom(seed);
  let seq = 0;
  while (!stopping) {
    const writes = Array.from({ length: random.chance(0.3) ? random.int(2, 6) : 1 }, () => makeWrite(random));
    const first = seq;
    seq += writes.length;
    await report({
      type: "begin",
      first,
      writes: writes.map(({ kind, entries }) => ({
        kind,
        entries: entries.map(([key, value]) => [key, encode(value)]),
      })),
    });
    await Promise.all(
      writes.map(({ kind, entries }, index) => {
        const done = kind === "set" ? store.set(entries[0][0], entries[0][1]) : store.mset(entries);
        return done.then(
          () => report({ type: "ack", seq: first + index }),
          (error) => report({ type: "error", seq: first + index, message: `${error?.code ?? ""} ${error?.message}` }),
        );
      }),
    );
  }
}

function makeWrite(random) {
  if (random.chance(0.6)) return { kind: "set", entries: [[key(random.int(0, KEY_POOL - 1)), makeValue(random)]] };
  const picked = new Set();
  const size = random.int(2, 25);
  while (picked.size < size) picked.add(random.int(0, KEY_POOL - 1));
  return { kind: "mset", entries: [...picked].map((index) => [key(index), makeValue(random)]) };
}

function key(index) {
  return index % 7 === 0 ? `clé-${index}` : `k${index}`;
}

const CHARS = [..."abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789-_/:.é漢字"].concat(["😀", "\u{10FFFF}", "\n", "\""]);

function text(random, length) {
  let out = "";
  for (let i = 0; i < length; i += 1) out += random.pick(CHARS);
  return out;
}

function makeValue(random) {
  const roll = random.next();
  if (roll < 0.15) {
    const bytes = new Uint8Array(random.int(0, random.chance(0.1) ? 40_000 : 3_000));
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = random.int(0, 255);
    return bytes;
  }
  if (roll < 0.45) return text(random, random.int(0, random.chance(0.1) ? 30_000 : 1_500));
  if (roll < 0.55) return random.pick([null, true, false, 0, random.int(-1e9, 1e9), random.next() * 1e6]);
  return {
    n: random.int(-1e15, 1e15),
    f: random.next(),
    s: text(random, random.int(0, 400)),
    list: Array.from({ length: random.int(0, 8) }, () => random.int(0, 1000)),
    nested: { ok: random.chance(0.5), none: null, deeper: [{ t: text(random, 5) }] },
  };
}
