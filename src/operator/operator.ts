/**
 * `startOperator(options)`: the whole operator in-process (used by `ladder operator`, the tests
 * and the benchmark). It campaigns for the Lease (unless leader election is off), runs one
 * Controller per leader term, stops reconciling when leadership is lost and campaigns again,
 * and on `close()` stops the informers, drains the queue, releases the Lease and closes
 * broker connections.
 */
import { hostname } from 'node:os';
import type { Logger } from '../common/index.js';
import { createTopologyClient } from '../topology/index.js';
import { BrokerPool, type TopologyClientFactory } from './brokers.js';
import { systemClock, type Clock } from './clock.js';
import { Controller, type ReconcileReport } from './controller.js';
import { EventRecorder } from './events.js';
import { KubeClient } from './kube.js';
import { fromKubeConfig, type KubeConfigLike, type KubeConnection } from './kubeconfig.js';
import { LeaderElector } from './leader.js';
import { DEFAULT_WORKER_IMAGE } from './render.js';

export interface OperatorOptions {
  /** The API server: a KubeConnection (`loadKubeConnection`), or a client-node KubeConfig. */
  kubeConfig: KubeConnection | KubeConfigLike;
  logger: Logger;
  /** Namespaces to watch. Default: all. */
  namespaces?: string[];
  /** Worker image. Default ghcr.io/ladder-dev/ladder:0.1.0. */
  workerImage?: string;
  /** Default true. */
  leaderElect?: boolean;
  /** Default $POD_NAMESPACE, else `default`. */
  leaseNamespace?: string;
  /** Default `ladder-operator`. */
  leaseName?: string;
  /** Default $POD_NAME, else the hostname. */
  identity?: string;
  /** Lease timings; defaults 15 s / 10 s / 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Every key is reconciled again this often. Default 30 s. */
  resyncMs?: number;
  /** Reconciles at once. Default 4. */
  concurrency?: number;
  /** Poll interval for draining rungs and blocked deletions. Default 5 s. */
  pollMs?: number;
  /** How long a broker operation waits before BrokerUnavailable. Default 5 s. */
  brokerTimeoutMs?: number;
  /** Cap of the informers' retry backoff. Default 10 s. */
  maxWatchBackoffMs?: number;
  clock?: Clock;
  topologyClientFactory?: TopologyClientFactory;
  onReconcile?: (r: ReconcileReport) => void;
}

export interface OperatorHealth {
  /** This replica leads (always true without leader election, once started). */
  leader: boolean;
  /** The current term's informers have listed once. */
  synced: boolean;
}

export interface RunningOperator {
  health(): OperatorHealth;
  /** Resolves once this replica leads and its informers have synced. */
  whenLeading(): Promise<void>;
  /** Metrics in Prometheus text format. */
  metrics(): string;
  close(): Promise<void>;
}

/** Start the operator in the background (reconciling begins once it leads); `close()` stops it. */
export function startOperator(options: OperatorOptions): RunningOperator {
  const clock = options.clock ?? systemClock();
  const logger = options.logger;
  const identity = options.identity ?? process.env['POD_NAME'] ?? hostname();
  const connection = 'applyToHTTPSOptions' in options.kubeConfig ? fromKubeConfig(options.kubeConfig) : options.kubeConfig;
  const kube = new KubeClient({ connection });
  const brokers = new BrokerPool({ factory: options.topologyClientFactory ?? createTopologyClient, logger, connectTimeoutMs: options.brokerTimeoutMs });
  const events = new EventRecorder({ kube, clock, logger, instance: identity });
  const reconciler = { kube, brokers, events, clock, logger, render: { image: options.workerImage ?? DEFAULT_WORKER_IMAGE }, pollMs: options.pollMs };
  const elector =
    options.leaderElect === false
      ? undefined
      : new LeaderElector({
          kube,
          clock,
          logger,
          identity,
          namespace: options.leaseNamespace ?? process.env['POD_NAMESPACE'] ?? 'default',
          name: options.leaseName ?? 'ladder-operator',
          leaseDurationMs: options.leaseDurationMs,
          renewDeadlineMs: options.renewDeadlineMs,
          retryPeriodMs: options.retryPeriodMs,
        });

  const stats = { reconciles: 0, errors: 0, durationMsSum: 0, terms: 0 };
  const stop = new AbortController();
  let controller: Controller | undefined;
  let leading = false;
  const leadWaiters: Array<() => void> = [];

  const newController = () =>
    new Controller({
      kube,
      reconciler,
      clock,
      logger,
      namespaces: options.namespaces ?? [],
      resyncMs: options.resyncMs ?? 30_000,
      concurrency: options.concurrency ?? 4,
      maxWatchBackoffMs: options.maxWatchBackoffMs,
      onReconcile: (r) => {
        stats.reconciles++;
        stats.durationMsSum += r.durationMs;
        if (r.error !== undefined) stats.errors++;
        options.onReconcile?.(r);
      },
    });

  const lead = async () => {
    controller = newController();
    controller.start();
    leading = true;
    stats.terms++;
    logger.info('operator started', { namespaces: options.namespaces?.length ? options.namespaces : 'all', identity });
    await controller.waitForSync();
    if (leading) for (const w of leadWaiters.splice(0)) w();
  };
  const unlead = async () => {
    leading = false;
    const c = controller;
    controller = undefined;
    await c?.stop();
  };

  const main = (async () => {
    if (elector === undefined) {
      await lead();
      return;
    }
    while (!stop.signal.aborted) {
      if (!(await elector.acquire(stop.signal))) return;
      void lead();
      const outcome = await elector.hold(stop.signal);
      await unlead();
      if (outcome === 'stopped') return;
      logger.warn('stopped reconciling after losing leadership; campaigning again', { identity });
    }
  })();
  main.catch((e: unknown) => logger.error('operator loop failed', { error: e }));

  return {
    health: () => ({ leader: leading, synced: controller?.synced ?? false }),
    whenLeading() {
      if (leading && controller?.synced) return Promise.resolve();
      return new Promise((resolve) => leadWaiters.push(resolve));
    },
    metrics() {
      const lines = [
        '# HELP ladder_operator_reconcile_total Reconciles run.',
        '# TYPE ladder_operator_reconcile_total counter',
        `ladder_operator_reconcile_total ${stats.reconciles}`,
        '# HELP ladder_operator_reconcile_errors_total Reconciles that failed (and were retried with backoff).',
        '# TYPE ladder_operator_reconcile_errors_total counter',
        `ladder_operator_reconcile_errors_total ${stats.errors}`,
        '# HELP ladder_operator_reconcile_seconds_sum Total time spent reconciling.',
        '# TYPE ladder_operator_reconcile_seconds_sum counter',
        `ladder_operator_reconcile_seconds_sum ${(stats.durationMsSum / 1000).toFixed(3)}`,
        '# HELP ladder_operator_queue_length Keys waiting in the work queue.',
        '# TYPE ladder_operator_queue_length gauge',
        `ladder_operator_queue_length ${controller?.queue.length ?? 0}`,
        '# HELP ladder_operator_leader 1 while this replica leads.',
        '# TYPE ladder_operator_leader gauge',
        `ladder_operator_leader ${leading ? 1 : 0}`,
        '# HELP ladder_operator_broker_connections Open broker connections.',
        '# TYPE ladder_operator_broker_connections gauge',
        `ladder_operator_broker_connections ${brokers.size}`,
      ];
      return lines.join('\n') + '\n';
    },
    async close() {
      stop.abort();
      await main.catch(() => {});
      await unlead();
      await elector?.release();
      await brokers.close();
      await kube.close();
      logger.info('operator stopped', { identity });
    },
  };
}
