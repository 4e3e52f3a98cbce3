/** Errors of the worker. Branch on the class or `code`, never on the message. */

/** LADDER_SIGNING_SECRET (or the Secret) is not a Standard Webhooks secret `whsec_<base64>`. */
export class SigningSecretError extends Error {
  readonly code = 'LADDER_SIGNING_SECRET_INVALID';
  constructor(readonly detail: string) {
    // Never include the secret itself.
    super(`the signing secret is not a Standard Webhooks secret (whsec_<base64>): ${detail}`);
    this.name = 'SigningSecretError';
  }
}

/** The republish to a rung or the parking queue was not confirmed; the message is not acked. */
export class RepublishError extends Error {
  readonly code = 'LADDER_REPUBLISH_FAILED';
  constructor(
    readonly queue: string,
    /** 'returned' (no such queue: basic.return), 'nacked', 'timeout' or 'channel' (connection/channel lost). */
    readonly reason: 'returned' | 'nacked' | 'timeout' | 'channel',
    options?: { cause?: unknown },
  ) {
    super(`republish to ${queue} was not confirmed (${reason})`, options);
    this.name = 'RepublishError';
  }
}

/** The SSRF guard refused the address a callback host resolved to. Raised inside the connect lookup. */
export class BlockedAddressError extends Error {
  readonly code = 'LADDER_BLOCKED_ADDRESS';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly detail: string,
  ) {
    super(`callback host ${host} resolves to a refused address: ${detail}`);
    this.name = 'BlockedAddressError';
  }
}

/** Worker.start() was interrupted by close(). */
export class WorkerClosedError extends Error {
  readonly code = 'LADDER_WORKER_CLOSED';
  constructor() {
    super('the worker was closed');
    this.name = 'WorkerClosedError';
  }
}
