/**
 * A private RabbitMQ node on its own ports, for fault tests that stop and start a broker (the
 * shared broker on 5672 is never touched). Its folder belongs to the `rabbitmq` user, as the
 * packaged scripts require.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { closedPort } from './merchant.js';
import { waitFor } from './amqp.js';

export interface PrivateBroker {
  url: string;
  port: number;
  node: string;
  start(): Promise<void>;
  stop(): void;
  destroy(): void;
}

function rabbitmqIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('rabbitmq:'));
  if (line === undefined) throw new Error('no rabbitmq user: is the rabbitmq-server package installed?');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export async function createPrivateBroker(): Promise<PrivateBroker> {
  if (userInfo().uid !== 0) throw new Error('starting a private RabbitMQ node needs root (the scripts switch to the rabbitmq user)');
  const port = await closedPort();
  const distPort = await closedPort();
  const node = `ladder-${randomBytes(3).toString('hex')}@localhost`;
  const dir = mkdtempSync(join(tmpdir(), 'ladder-rmq-'));
  chmodSync(dir, 0o755);
  for (const d of ['mnesia', 'log']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\n`);
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
  const { uid, gid } = rabbitmqIds();
  for (const p of ['', 'mnesia', 'log', 'enabled_plugins', 'rabbitmq.conf', 'rabbitmq-env.conf']) chownSync(join(dir, p), uid, gid);
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
  };
  let running = false;
  const broker: PrivateBroker = {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    port,
    node,
    async start() {
      execFileSync('rabbitmq-server', ['-detached'], { env, cwd: dir, stdio: 'ignore' });
      running = true;
      await waitFor(`private RabbitMQ ${node} listening on ${port}`, () => listening(port), 40_000, 100);
    },
    stop() {
      execFileSync('rabbitmqctl', ['-n', node, 'stop'], { env, stdio: 'ignore', timeout: 30_000 });
      running = false;
    },
    destroy() {
      if (running) {
        try {
          broker.stop();
        } catch {
          // Stop failed: end the node by its own pid, nothing broader.
          try {
            process.kill(Number(readFileSync(join(dir, 'pid'), 'utf8').trim()), 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return broker;
}
