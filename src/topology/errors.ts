/**
 * Errors of the topology adapter. Callers branch on the class or on `code`, never on the text.
 * Messages never carry the AMQP URL's password.
 */
import type { QueueArguments } from './plan.js';

/** A queue exists with arguments that differ from the plan. Ladder never deletes or redeclares it. */
export class TopologyConflictError extends Error {
  readonly code = 'LADDER_TOPOLOGY_CONFLICT';
  constructor(
    readonly queue: string,
    readonly wanted: QueueArguments,
    /** The broker's reply text, e.g. "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' ...". */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`queue ${queue} already exists with different arguments (wanted ${JSON.stringify(wanted)}): ${detail}`, options);
    this.name = 'TopologyConflictError';
  }
}

/** The source exchange is absent and the pipeline says not to declare it (`source.declare: false`). */
export class ExchangeMissingError extends Error {
  readonly code = 'LADDER_EXCHANGE_MISSING';
  constructor(
    readonly exchange: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`exchange ${exchange} does not exist and source.declare is false (producers must declare it): ${detail}`, options);
    this.name = 'ExchangeMissingError';
  }
}

/** The broker could not be reached (or the connection failed during the operation). */
export class BrokerUnavailableError extends Error {
  readonly code = 'LADDER_BROKER_UNAVAILABLE';
  constructor(
    /** The broker address with the password removed, e.g. amqp://guest:***@127.0.0.1:5672. */
    readonly broker: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`RabbitMQ at ${broker} is unavailable: ${detail}`, options);
    this.name = 'BrokerUnavailableError';
  }
}

/** The broker refused a declaration for another reason (e.g. access refused on the vhost). */
export class TopologyError extends Error {
  readonly code = 'LADDER_TOPOLOGY_FAILED';
  constructor(
    readonly object: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`declaring ${object} failed: ${detail}`, options);
    this.name = 'TopologyError';
  }
}
