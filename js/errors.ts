/** Every failure larder reports is a StorageError with a stable `code`. */

export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "INVALID_KEY"
  | "INVALID_VALUE"
  | "VALUE_TOO_LARGE"
  | "BATCH_TOO_LARGE"
  | "QUEUE_FULL"
  | "QUOTA_EXCEEDED"
  | "DISPOSED"
  | "CIRCUIT_OPEN"
  | "LOCKED"
  | "BUSY"
  | "TIMEOUT"
  | "IO"
  | "CORRUPT"
  | "INCOMPATIBLE_SCHEMA"
  | "UNSUPPORTED"
  | "LOAD_FAILED"
  | "INTERNAL";

export type ErrorCategory =
  | "VALIDATION"
  | "LIFECYCLE"
  | "CAPACITY"
  | "CONCURRENCY"
  | "TIMEOUT"
  | "STORAGE"
  | "CORRUPTION"
  | "INTERNAL";

export type RecoveryAction =
  | "FIX_INPUT"
  | "RETRY"
  | "WAIT"
  | "REOPEN"
  | "FREE_SPACE"
  | "RESET_DATABASE"
  | "NONE";

export interface StorageErrorFields {
  code: ErrorCode;
  category: ErrorCategory;
  retryable: boolean;
  recoveryAction: RecoveryAction;
  userMessage: string;
  message: string;
  sqliteCode?: number;
}

export class StorageError extends Error {
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  readonly retryable: boolean;
  readonly recoveryAction: RecoveryAction;
  readonly userMessage: string;
  readonly sqliteCode: number | undefined;
  /** The txId of the call that rejected with this error (see the `trace`
   *  option); set by the store as the call settles, undefined before. */
  txId: number | undefined;

  constructor(fields: StorageErrorFields, options?: { cause?: unknown }) {
    super(fields.message, options);
    this.name = "StorageError";
    this.code = fields.code;
    this.category = fields.category;
    this.retryable = fields.retryable;
    this.recoveryAction = fields.recoveryAction;
    this.userMessage = fields.userMessage;
    this.sqliteCode = fields.sqliteCode;
    this.txId = undefined;
  }
}

/** The fields of the codes the facade raises itself, as core/src/error.rs defines them. */
const OWN_CODES = {
  INVALID_ARGUMENT: ["VALIDATION", false, "FIX_INPUT", "The request was not valid."],
  INVALID_KEY: ["VALIDATION", false, "FIX_INPUT", "The item's name is not valid."],
  INVALID_VALUE: [
    "VALIDATION",
    false,
    "FIX_INPUT",
    "The data could not be saved because it is not in a storable form.",
  ],
  DISPOSED: ["LIFECYCLE", false, "REOPEN", "The storage has been closed. Reload to continue."],
  UNSUPPORTED: [
    "LIFECYCLE",
    false,
    "NONE",
    "This browser or environment does not support the required storage.",
  ],
  LOAD_FAILED: [
    "LIFECYCLE",
    true,
    "RETRY",
    "The storage could not be loaded. Please check your connection and try again.",
  ],
  CORRUPT: ["CORRUPTION", false, "RESET_DATABASE", "The saved data is damaged and has to be reset."],
  INTERNAL: ["INTERNAL", false, "REOPEN", "Something went wrong. Please reload and try again."],
} as const satisfies Partial<Record<ErrorCode, readonly [ErrorCategory, boolean, RecoveryAction, string]>>;

export type OwnCode = keyof typeof OWN_CODES;

/** A StorageError raised by the facade itself (before or without the core). */
export function ownError(code: OwnCode, message: string, options?: { cause?: unknown }): StorageError {
  const [category, retryable, recoveryAction, userMessage] = OWN_CODES[code];
  return new StorageError({ code, category, retryable, recoveryAction, userMessage, message }, options);
}

/** Every field of a StorageError, as a plain object (one that can be posted, or copied with a new message). */
export function errorFields(error: StorageError): StorageErrorFields {
  const { code, category, retryable, recoveryAction, userMessage, message, sqliteCode } = error;
  return { code, category, retryable, recoveryAction, userMessage, message, sqliteCode };
}

/** A thrown value in a message: its name and message, if it is an Error. */
export function describe(thrown: unknown): string {
  return thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
}

export function isStorageError(value: unknown): value is StorageError {
  return value instanceof StorageError;
}

/**
 * Turns whatever the wasm core threw or rejected with into a StorageError:
 * its own error objects keep every field; anything else (a trap, a bug in the
 * glue) becomes INTERNAL, with the original as `cause`.
 */
export function toStorageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  if (isNativeError(error)) {
    return new StorageError({
      code: error.code,
      category: error.category,
      retryable: error.retryable,
      recoveryAction: error.recoveryAction,
      userMessage: error.userMessage,
      message: error.message,
      sqliteCode: error.sqliteCode ?? undefined,
    });
  }
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new StorageError(
    {
      code: "INTERNAL",
      category: "INTERNAL",
      retryable: false,
      recoveryAction: "REOPEN",
      userMessage: "Something went wrong. Please reload and try again.",
      message: `internal error in larder: ${detail}`,
    },
    { cause: error },
  );
}

function isNativeError(error: unknown): error is StorageErrorFields {
  return (
    error instanceof Error &&
    error.name === "StorageError" &&
    typeof (error as Partial<StorageErrorFields>).code === "string" &&
    typeof (error as Partial<StorageErrorFields>).userMessage === "string"
  );
}
