/** Errors of the operator layer. Branch on the class or `code`, never on the message. */

/** The Kubernetes API answered with an error status, or could not be reached (`status` 0). */
export class KubeApiError extends Error {
  readonly code = 'LADDER_KUBE_API';
  constructor(
    readonly method: string,
    readonly path: string,
    /** HTTP status; 0 when no answer came (connection refused, reset, timeout). */
    readonly status: number,
    /** `reason` of the Kubernetes Status object, e.g. NotFound, Conflict, Expired. */
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${method} ${path}: ${status === 0 ? 'no answer' : status} ${reason}: ${message}`, options);
    this.name = 'KubeApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409;
export const isGone = (e: unknown): boolean => e instanceof KubeApiError && e.status === 410;

/** The Secret a pipeline names does not exist (or cannot be read). */
export class SecretNotFoundError extends Error {
  readonly code = 'LADDER_SECRET_NOT_FOUND';
  constructor(
    readonly namespace: string,
    readonly secret: string,
    options?: { cause?: unknown },
  ) {
    super(`Secret ${namespace}/${secret} not found`, options);
    this.name = 'SecretNotFoundError';
  }
}

/** The Secret exists but lacks the key (or the value is empty). */
export class SecretKeyMissingError extends Error {
  readonly code = 'LADDER_SECRET_KEY_MISSING';
  constructor(
    readonly namespace: string,
    readonly secret: string,
    readonly key: string,
  ) {
    super(`Secret ${namespace}/${secret} has no key "${key}"`);
    this.name = 'SecretKeyMissingError';
  }
}

/** A reconcile that wrote its failure to status and must be retried with backoff. */
export class ReconcileError extends Error {
  readonly code = 'LADDER_RECONCILE';
  constructor(
    readonly key: string,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${key}: ${reason}: ${message}`, options);
    this.name = 'ReconcileError';
  }
}
