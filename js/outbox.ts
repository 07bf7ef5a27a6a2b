/**
 * Messages between a RemoteStore and its worker, batched: everything posted
 * in one turn leaves as a single postMessage of an array (one structured
 * clone and one message event instead of one per call), with the buffers
 * the sender marks as its own transferred rather than copied.
 */

/** Posts one message and transfers `transfer`; throws if it cannot clone. */
export type PostMessage = (message: unknown, transfer: Transferable[]) => void;

interface Item<T> {
  message: T;
  transfer: Transferable[];
  /** Told instead when this message cannot be posted (it does not clone). */
  failed(error: unknown): void;
}

export class Outbox<T> {
  readonly #post: PostMessage;
  #items: Array<Item<T>> = [];

  constructor(post: PostMessage) {
    this.#post = post;
  }

  /** Queues `message`; the first of a turn schedules the batch's post. */
  add(message: T, transfer: Transferable[], failed: (error: unknown) => void): void {
    this.#items.push({ message, transfer, failed });
    if (this.#items.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const items = this.#items;
    this.#items = [];
    try {
      this.#post(
        items.map((item) => item.message),
        items.flatMap((item) => item.transfer),
      );
    } catch {
      // One message does not clone: post them one by one, so only it fails.
      for (const item of items) {
        try {
          this.#post([item.message], item.transfer);
        } catch (error) {
          item.failed(error);
        }
      }
    }
  }
}

/** The buffers of the typed arrays in `value` (at the top or in nested
 *  arrays), for a sender whose every such buffer is its own to give away. */
export function ownBuffers(value: unknown): Transferable[] {
  if (ArrayBuffer.isView(value)) return value.buffer instanceof ArrayBuffer ? [value.buffer] : [];
  if (!Array.isArray(value)) return [];
  return [...new Set(value.flatMap(ownBuffers))];
}
