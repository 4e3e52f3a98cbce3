import { createServer, type Server } from 'node:http';
import { parseDuration } from '../../api/index.js';
import { createLogger } from '../../common/index.js';
import { KubeconfigError, loadKubeConnection, startOperator } from '../../operator/index.js';
import { parseFlags, parseLevel, UsageError, untilSignal, type Command } from '../command.js';

const HELP = `Usage: ladder operator [options]

Runs the NotifyPipeline operator: declares each pipeline's RabbitMQ topology, runs its worker
Deployment, reports status. Stops gracefully on SIGTERM/SIGINT (releases the lease).

Options:
  --namespaces a,b          namespaces to watch (default: all)
  --kubeconfig PATH         kubeconfig (default: $KUBECONFIG, else in-cluster)
  --log-level LEVEL         debug | info | warn | error (default info)
  --health-port N           /healthz and /readyz (default 8081; 0 = any free port)
  --metrics-port N          Prometheus /metrics (default 0 = off)
  --worker-image IMAGE      worker image (default ghcr.io/ladder-dev/ladder:0.1.0)
  --leader-elect            campaign for the Lease before reconciling (default)
  --no-leader-elect         reconcile at once (a single replica only)
  --lease-namespace NS      Lease namespace (default $POD_NAMESPACE, else default)
  --lease-name NAME         Lease name (default ladder-operator)
  --lease-duration D        Lease duration (default 15s)
  --renew-deadline D        give up leadership when renewal fails this long (default 10s)
  --retry-period D          between Lease attempts (default 2s)
  --resync D                reconcile every pipeline this often (default 30s)
  --concurrency N           reconciles at once (default 4)

Identity: $POD_NAME, else the hostname.`;


function duration(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`--${flag}: "${text}" is not a duration like 30s`);
  return ms;
}

function int(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag}: "${text}" must be an integer >= ${min}`);
  return n;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
    });
  });
}

export const command: Command = {
  name: 'operator',
  summary: 'run the Kubernetes operator for NotifyPipelines',
  help: HELP,
  async run(argv) {
    const { values: v } = parseFlags(argv, {
      namespaces: { type: 'string' },
      kubeconfig: { type: 'string' },
      'log-level': { type: 'string' },
      'health-port': { type: 'string' },
      'metrics-port': { type: 'string' },
      'worker-image': { type: 'string' },
      'leader-elect': { type: 'boolean' },
      'no-leader-elect': { type: 'boolean' },
      'lease-namespace': { type: 'string' },
      'lease-name': { type: 'string' },
      'lease-duration': { type: 'string' },
      'renew-deadline': { type: 'string' },
      'retry-period': { type: 'string' },
      resync: { type: 'string' },
      concurrency: { type: 'string' },
    });
    const logger = createLogger({ level: parseLevel(v['log-level']) }, { component: 'operator' });
    const healthPort = int('health-port', v['health-port'], 8081, 0);
    const metricsPort = int('metrics-port', v['metrics-port'], 0, 0);
    const namespaces = (v.namespaces ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    const leaseDurationMs = duration('lease-duration', v['lease-duration'], 15_000);
    const renewDeadlineMs = duration('renew-deadline', v['renew-deadline'], 10_000);
    const retryPeriodMs = duration('retry-period', v['retry-period'], 2_000);
    if (!(renewDeadlineMs < leaseDurationMs && retryPeriodMs < renewDeadlineMs)) {
      throw new UsageError('lease timings must satisfy retry-period < renew-deadline < lease-duration');
    }

    const resyncMs = duration('resync', v.resync, 30_000);
    const concurrency = int('concurrency', v.concurrency, 4, 1);
    let connection;
    try {
      connection = loadKubeConnection(v.kubeconfig);
    } catch (e) {
      if (e instanceof KubeconfigError) throw new UsageError(e.message);
      throw e;
    }

    const operator = startOperator({
      kubeConfig: connection,
      logger,
      namespaces,
      workerImage: v['worker-image'],
      leaderElect: v['no-leader-elect'] === true ? false : (v['leader-elect'] ?? true),
      leaseNamespace: v['lease-namespace'],
      leaseName: v['lease-name'],
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
      resyncMs,
      concurrency,
    });

    const health = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        // A standby replica is ready (it is waiting for the Lease); a leader once its caches synced.
        const h = operator.health();
        const ok = !h.leader || h.synced;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'informers not synced\n');
      } else if (path === '/metrics' && metricsPort === healthPort) {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(operator.metrics());
      } else res.writeHead(404).end();
    });
    const servers: Server[] = [health];
    const boundHealth = await listen(health, healthPort);
    logger.info('health server listening', { port: boundHealth });
    if (metricsPort !== 0 && metricsPort !== healthPort) {
      const metrics = createServer((req, res) => {
        if ((req.url ?? '/').split('?')[0] === '/metrics') res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(operator.metrics());
        else res.writeHead(404).end();
      });
      servers.push(metrics);
      logger.info('metrics server listening', { port: await listen(metrics, metricsPort) });
    }

    const signal = await untilSignal();
    logger.info('shutting down', { signal });
    await operator.close();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    return 0;
  },
};
