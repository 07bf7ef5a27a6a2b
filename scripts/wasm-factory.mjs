// Turns wasm-bindgen's `--target web` glue, which holds one wasm instance in
// module-level variables, into a factory: `createRuntime(trapped)` returns a
// fresh runtime (`init`, `initSync`, `openStore`, `limits`, `NativeStore`) with its own
// instance each time. This is what lets a store replace an instance that
// trapped on a Rust panic. Inside the factory, `queueMicrotask` and
// `setTimeout` are shadowed so that a trap in a task the runtime scheduled
// (its futures, its retry timers) reaches `trapped` instead of the event
// loop, where Node would end the process. It also makes the glue copy long
// strings into wasm memory natively (STRING_COPY).

const EXPORTS = [
  [/^export class NativeStore /m, "class NativeStore "],
  [/^export function openStore\(/m, "function openStore("],
  [/^export function limits\(/m, "function limits("],
  [/^export \{ initSync, __wbg_init as default \};\n?/m, ""],
];

// wasm-bindgen copies a string into wasm memory one UTF-16 unit at a time
// while it is ASCII; for a JSON value of a kilobyte that loop took 2 µs where
// TextEncoder.encodeInto, native, takes 0.2. Long strings go to encodeInto
// at once, into one byte per unit; what does not fit (past the first
// character that is not ASCII) gets room for three bytes per unit, as the
// glue's own slow path does, and the room is given back after.
const STRING_COPY = [
  /(function passStringToWasm0\(arg, malloc, realloc\) \{\n(?:.*\n)*?\s*let len = arg\.length;\n)/,
  `$1    if (len > 64) {
        let ptr = malloc(len, 1) >>> 0;
        let { read, written } = cachedTextEncoder.encodeInto(arg, getUint8ArrayMemory0().subarray(ptr, ptr + len));
        if (read !== len) {
            const rest = arg.slice(read);
            const room = written + rest.length * 3;
            ptr = realloc(ptr, len, room, 1) >>> 0;
            written += cachedTextEncoder.encodeInto(rest, getUint8ArrayMemory0().subarray(ptr + written, ptr + room)).written;
            ptr = realloc(ptr, room, written, 1) >>> 0;
        }
        WASM_VECTOR_LEN = written;
        return ptr;
    }
`,
];

const PROLOGUE = `export function createRuntime(trapped) {
  const guard = (task) => (...args) => {
    try {
      return task(...args);
    } catch (error) {
      trapped(error);
    }
  };
  // A resolved promise's reaction is the same microtask as queueMicrotask's,
  // without what Node's adds to each (an AsyncResource and a bound function).
  const resolved = Promise.resolve();
  const queueMicrotask = (task) => {
    resolved.then(guard(task));
  };
  const setTimeout = (task, delayMs) => globalThis.setTimeout(guard(task), delayMs);
`;

const EPILOGUE = `
  return { NativeStore, openStore, limits, init: __wbg_init, initSync };
}
`;

/** The factory module made of the glue `source`. */
export function glueFactory(source) {
  const [header, ...rest] = source.split("\n");
  if (!header.startsWith("/* @ts-self-types=")) throw new Error(`unexpected first line of the glue: ${header}`);
  let body = rest.join("\n");
  for (const [pattern, replacement] of [...EXPORTS, STRING_COPY]) {
    if (!pattern.test(body)) throw new Error(`the glue no longer has ${pattern}: update scripts/wasm-factory.mjs`);
    body = body.replace(pattern, replacement);
  }
  if (/^export /m.test(body)) throw new Error("the glue has an export the factory does not know");
  return `${header}\n${PROLOGUE}${body}${EPILOGUE}`;
}

const TYPE_EXPORTS = [
  [/^export class NativeStore /m, "declare class NativeStore "],
  [/^export function openStore\(/m, "declare function openStore("],
  [/^export function limits\(/m, "declare function limits("],
  [/^export function initSync\(/m, "declare function initSync("],
  [/^export default function __wbg_init /m, "declare function __wbg_init "],
];

/** The glue's declarations `dts`, rewritten to match `glueFactory`. */
export function glueFactoryTypes(dts) {
  let types = dts;
  for (const [pattern, replacement] of TYPE_EXPORTS) {
    if (!pattern.test(types)) throw new Error(`the glue's types no longer have ${pattern}`);
    types = types.replace(pattern, replacement);
  }
  return `${types}
export type { NativeStore };

/** One wasm instance and the calls into it. */
export interface Runtime {
  NativeStore: typeof NativeStore;
  openStore: typeof openStore;
  limits: typeof limits;
  init: typeof __wbg_init;
  initSync: typeof initSync;
}

/** A fresh runtime; \`trapped\` hears of a trap in a task it scheduled. */
export function createRuntime(trapped: (error: unknown) => void): Runtime;
`;
}
