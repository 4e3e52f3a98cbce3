/**
 * A throwaway Kubernetes control plane for tests (the envtest pattern): etcd and kube-apiserver
 * on free loopback ports, TLS with a generated CA, RBAC, and service-account token signing.
 *
 * What it is not: there is no kube-controller-manager, scheduler or kubelet. So
 *  - a deleted namespace stays Terminating forever (no namespace controller): use unique names;
 *  - nothing garbage-collects owned objects (no GC): tests cannot rely on ownerReferences
 *    cascading;
 *  - ServiceAccounts get no token Secret and namespaces get no `default` ServiceAccount
 *    (no token/SA controllers): create ServiceAccounts yourself and call TokenRequest;
 *  - Deployments never get ReplicaSets or Pods, so `status.availableReplicas` stays unset
 *    unless a test writes the status itself.
 *
 * This module does process and file work only (no jest, no Kubernetes client) so the jest
 * global setup can load it cheaply. The test-facing API is `harness.ts`.
 *
 * Lifecycle: the jest global setup calls `initRun` (a run folder and a state file whose path
 * goes to the workers in $LADDER_K8S_STATE), then `ensureControlPlane` when k8s tests are
 * selected; `ensureControlPlane` is also what a test calls lazily. The global teardown calls
 * `teardownRun`. A watchdog process removes everything if the jest process dies without
 * running its teardown (SIGKILL, crash).
 *
 * Jest loads a global setup's own imports with Node's native loader, not its transformer, so
 * this file must stay loadable by Node's built-in type stripping: no relative imports, only
 * erasable TypeScript (no parameter properties, enums or namespaces), `import type` for types.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';

// ---------------------------------------------------------------------------------------------
// errors

export type ControlPlaneErrorCode =
  /** The binaries could not be found or built. */
  | 'LADDER_K8S_BINARIES'
  /** etcd or kube-apiserver did not come up (the message carries the log tail). */
  | 'LADDER_K8S_START'
  /** A test asked for the control plane outside a jest run that has the global setup. */
  | 'LADDER_K8S_NOT_CONFIGURED'
  /** A helper command (openssl, kubectl, helm) could not run or failed. */
  | 'LADDER_K8S_COMMAND';

/** Errors of the test control plane. Branch on `code`, never on the message text. */
export class ControlPlaneError extends Error {
  readonly code: ControlPlaneErrorCode;
  /** Context: which component, which log file, which command. */
  readonly context: Record<string, unknown>;
  constructor(code: ControlPlaneErrorCode, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ControlPlaneError';
    this.code = code;
    this.context = context;
  }
}

/** Env var naming the state file, set by the global setup for the test workers. */
export const STATE_ENV = 'LADDER_K8S_STATE';

export interface ProcessInfo {
  pid: number;
  port: number;
  logPath: string;
}

export interface Timings {
  /** Generating the CA, serving, client and service-account keys. */
  certsMs: number;
  /** Spawn to etcd `/health` ok. */
  etcdMs: number;
  /** Spawn to kube-apiserver `/readyz` ok and the `default` namespace present. */
  apiserverMs: number;
  /** The whole start: certs + etcd + apiserver, as a test waits for it. */
  totalMs: number;
}

export interface ControlPlaneState {
  version: 1;
  /** The jest main process: when it dies, the watchdog tears everything down. */
  ownerPid: number;
  /** Everything the run writes (certs, etcd data, logs, kubeconfigs); removed at teardown. */
  runDir: string;
  status: 'idle' | 'starting' | 'ready' | 'failed';
  /** Set when status is 'failed'. */
  error?: string;
  binDir?: string;
  /** helm may come from $PATH when $KUBEBUILDER_ASSETS lacks it. */
  helmPath?: string;
  kubeconfigPath?: string;
  /** https://127.0.0.1:PORT */
  server?: string;
  certsDir?: string;
  etcd?: ProcessInfo & { dataDir: string };
  apiserver?: ProcessInfo & { args: string[]; restarts: number };
  watchdogPid?: number;
  timings?: Timings;
}

export interface Certs {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

/**
 * The repository root (where package.json and hack/ live): the nearest folder above this file
 * with a package.json, so it also holds when this file runs compiled elsewhere (the benchmark
 * compiles it into .tmp/bench-build/).
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// small process and file helpers

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to completion; never throws on a non-zero exit (the caller reads `code`). */
export function run(
  file: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      file,
      args,
      { env: options.env ?? process.env, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof (error as { code?: unknown }).code === 'string') {
          // ENOENT, EACCES…: the program could not run at all.
          reject(new ControlPlaneError('LADDER_K8S_COMMAND', `cannot run ${file}: ${error.message}`, { file }, { cause: error }));
          return;
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        const killed = error?.killed ? `\n(${file} killed by ${error.signal} after ${options.timeoutMs ?? 60_000} ms)` : '';
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) + killed });
      },
    );
    // A program that exits without reading stdin makes the write fail with EPIPE: not our error.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input ?? '');
  });
}

async function mustRun(file: string, args: string[], cwd?: string): Promise<string> {
  const r = await run(file, args, { cwd });
  if (r.code !== 0) {
    throw new ControlPlaneError('LADDER_K8S_COMMAND', `${file} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`, { file, args });
  }
  return r.stdout;
}

/** A port that was free a moment ago on 127.0.0.1 (start-up retries on the rare collision). */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}

/**
 * Poll `check` until it returns a value other than undefined, or throw after `timeoutMs`.
 * Other errors thrown by `check` (connection refused…) mean "not yet"; a ControlPlaneError is
 * final and is rethrown at once (e.g. the process being waited for has exited).
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      if (e instanceof ControlPlaneError) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : '';
      throw new ControlPlaneError('LADDER_K8S_START', `timed out after ${options.timeoutMs} ms waiting for ${options.what}${detail}`, {
        what: options.what,
      });
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // "pid (comm) S ..." — the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Signal a whole process group (daemons are spawned detached: pgid = pid). */
function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM the group, wait for the leader to exit, SIGKILL after `graceMs`. */
export async function stopGroup(pgid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pgid)) {
    killGroup(pgid, 'SIGKILL'); // stray children of a dead leader
    return;
  }
  killGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  killGroup(pgid, 'SIGKILL');
  const hardDeadline = Date.now() + 5_000;
  while (isAlive(pgid) && Date.now() < hardDeadline) await new Promise((r) => setTimeout(r, 50));
}

/** Start a long-running program in its own process group, output appended to `logPath`. */
function spawnDaemon(file: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): number {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
    if (child.pid === undefined) throw new ControlPlaneError('LADDER_K8S_START', `cannot start ${file}`, { file });
    child.on('error', () => {}); // reported through the log and the readiness wait
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** The last `lines` lines of a log file ('' when there is none). */
export function logTail(path: string | undefined, lines = 60): string {
  if (!path || !existsSync(path)) return '';
  const text = readFileSync(path, 'utf8');
  return text.split('\n').slice(-lines - 1).join('\n');
}

function httpGet(
  url: string,
  tls: { ca: Buffer; cert: Buffer; key: Buffer } | undefined,
  timeoutMs = 2_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(url, { method: 'GET', timeout: timeoutMs, ...(tls ?? {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// binaries

export interface Binaries {
  binDir: string;
  helmPath: string;
}

const K8S_BINS = ['kube-apiserver', 'etcd', 'kubectl'] as const;

function executable(path: string): boolean {
  try {
    return spawnSync('test', ['-x', path]).status === 0;
  } catch {
    return false;
  }
}

/**
 * `$KUBEBUILDER_ASSETS` when it holds kube-apiserver, etcd and kubectl (helm from there, else
 * from $PATH); otherwise `bash hack/k8s-bins.sh`, which reuses its cache or builds (slow, cold).
 */
export async function resolveBinaries(root = repoRoot(), env: NodeJS.ProcessEnv = process.env): Promise<Binaries> {
  const assets = env.KUBEBUILDER_ASSETS;
  if (assets && K8S_BINS.every((b) => executable(join(assets, b)))) {
    const helmHere = join(assets, 'helm');
    const helmOnPath = spawnSync('bash', ['-c', 'command -v helm'], { encoding: 'utf8' }).stdout.trim();
    const helmPath = executable(helmHere) ? helmHere : helmOnPath;
    if (helmPath) return { binDir: assets, helmPath };
  }
  // The script prints only the folder on stdout; its progress goes to our stderr.
  const result = spawnSync('bash', [join(root, 'hack', 'k8s-bins.sh')], {
    cwd: root,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1024 * 1024,
  });
  const binDir = (result.stdout ?? '').trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !binDir || !K8S_BINS.every((b) => executable(join(binDir, b)))) {
    throw new ControlPlaneError(
      'LADDER_K8S_BINARIES',
      `hack/k8s-bins.sh did not provide ${K8S_BINS.join(', ')} (exit ${result.status}, printed ${JSON.stringify(binDir)})`,
      { binDir },
      { cause: result.error },
    );
  }
  const helmPath = executable(join(binDir, 'helm'))
    ? join(binDir, 'helm')
    : spawnSync('bash', ['-c', 'command -v helm'], { encoding: 'utf8' }).stdout.trim();
  if (!helmPath) throw new ControlPlaneError('LADDER_K8S_BINARIES', `no helm in ${binDir} nor on PATH`, { binDir });
  return { binDir, helmPath };
}

// ---------------------------------------------------------------------------------------------
// certificates (openssl)

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Sign a fresh EC key's CSR with the CA; `ext` is an openssl extension file body. */
async function issue(dir: string, name: string, subject: string, ext: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), ext);
  await mustRun('openssl', ['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  await mustRun(
    'openssl',
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', '7', '-out', `${name}.crt`, '-extfile', `${name}.ext`],
    dir,
  );
}

/**
 * A CA; a serving certificate for 127.0.0.1/localhost; a client certificate for an admin in
 * `system:masters`; an RSA key pair for signing service-account tokens.
 */
export async function generateCerts(dir: string): Promise<Certs> {
  await mkdir(dir, { recursive: true });
  const saKey = mustRun('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir).then(() =>
    mustRun('openssl', ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir),
  );
  await mustRun(
    'openssl',
    ['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '7', '-subj', '/CN=ladder-test-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'],
    dir,
  );
  await Promise.all([
    issue(dir, 'serving', '/CN=kube-apiserver',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' +
        'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n'),
    issue(dir, 'admin', '/O=system:masters/CN=ladder-admin',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'),
    saKey,
  ]);
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    servingCert: join(dir, 'serving.crt'),
    servingKey: join(dir, 'serving.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    saKey: join(dir, 'sa.key'),
    saPub: join(dir, 'sa.pub'),
  };
}

// ---------------------------------------------------------------------------------------------
// kubeconfigs

export type KubeconfigUser = { clientCertificateData: string; clientKeyData: string } | { token: string };

/** A kubeconfig text for one cluster, one user, one context (optionally with a namespace). */
export function renderKubeconfig(options: { server: string; caData: string; userName: string; user: KubeconfigUser; namespace?: string }): string {
  const user =
    'token' in options.user
      ? { token: options.user.token }
      : { 'client-certificate-data': options.user.clientCertificateData, 'client-key-data': options.user.clientKeyData };
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'ladder-test', cluster: { server: options.server, 'certificate-authority-data': options.caData } }],
    users: [{ name: options.userName, user }],
    contexts: [
      {
        name: options.userName,
        context: { cluster: 'ladder-test', user: options.userName, ...(options.namespace ? { namespace: options.namespace } : {}) },
      },
    ],
    'current-context': options.userName,
  });
}

// ---------------------------------------------------------------------------------------------
// state file

export function readState(path: string): ControlPlaneState {
  return JSON.parse(readFileSync(path, 'utf8')) as ControlPlaneState;
}

/** Atomic replace, so a reader in another worker never sees half a file. */
export function writeState(path: string, state: ControlPlaneState): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  renameSync(tmp, path);
}

function statePathOf(runDir: string): string {
  return join(runDir, 'state.json');
}

/** The process groups the watchdog must kill if the owner dies. */
function writePgids(state: ControlPlaneState): void {
  const pgids = [state.apiserver?.pid, state.etcd?.pid].filter((p): p is number => typeof p === 'number');
  const path = join(state.runDir, 'pgids');
  writeFileSync(`${path}.tmp`, pgids.join('\n') + '\n');
  renameSync(`${path}.tmp`, path);
}

/**
 * Start a run: a fresh folder under the temp dir with an idle state file, and the watchdog.
 * Returns the state file's path (put it in $LADDER_K8S_STATE).
 */
export async function initRun(options: { ownerPid?: number } = {}): Promise<string> {
  const runDir = await mkdtemp(join(tmpdir(), 'ladder-k8s-'));
  const state: ControlPlaneState = { version: 1, ownerPid: options.ownerPid ?? process.pid, runDir, status: 'idle' };
  state.watchdogPid = startWatchdog(state.ownerPid, runDir);
  writePgids(state);
  writeState(statePathOf(runDir), state);
  return statePathOf(runDir);
}

/**
 * A detached shell that waits for the owner to die (or the run folder to go away, which means a
 * normal teardown happened) and then kills the recorded process groups and removes the folder.
 * Its 1 s loop is a liveness poll, not a settle-sleep.
 */
function startWatchdog(ownerPid: number, runDir: string): number {
  const script = `
owner="$1"; dir="$2"
# alive = exists and is not a zombie (PID 1 here may be slow to reap an orphan)
alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]; }
while alive "$owner" && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
# apiserver first (it is listed first), then etcd: an apiserver that loses etcd mid-shutdown hangs
for g in $(cat "$dir/pgids" 2>/dev/null); do
  kill -TERM -- "-$g" 2>/dev/null
  for i in $(seq 1 25); do alive "$g" || break; sleep 0.2; done
  kill -KILL -- "-$g" 2>/dev/null
done
rm -rf "$dir"
`;
  const child = spawn('bash', ['-c', script, 'ladder-k8s-watchdog', String(ownerPid), runDir], { detached: true, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
  return child.pid ?? 0;
}

// ---------------------------------------------------------------------------------------------
// start / stop

const ETCD_TIMEOUT_MS = 60_000;
const APISERVER_TIMEOUT_MS = 180_000; // two shared cores and a Go build next door

function tlsOf(certs: Pick<Certs, 'caCert' | 'adminCert' | 'adminKey'>) {
  return { ca: readFileSync(certs.caCert), cert: readFileSync(certs.adminCert), key: readFileSync(certs.adminKey) };
}

async function startEtcd(binDir: string, runDir: string): Promise<NonNullable<ControlPlaneState['etcd']>> {
  const logPath = join(runDir, 'logs', 'etcd.log');
  const dataDir = join(runDir, 'etcd-data');
  for (let attempt = 1; ; attempt++) {
    const [port, peerPort] = [await freePort(), await freePort()];
    const pid = spawnDaemon(join(binDir, 'etcd'), [
      '--name=ladder-test',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=http://127.0.0.1:${port}`,
      `--advertise-client-urls=http://127.0.0.1:${port}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=ladder-test=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync', // test data: durability traded for speed on a shared disk
      '--log-level=warn',
    ], logPath);
    try {
      await pollUntil(
        async () => {
          if (!isAlive(pid)) throw new ControlPlaneError('LADDER_K8S_START', 'etcd exited', { logPath });
          const r = await httpGet(`http://127.0.0.1:${port}/health`, undefined);
          return r.status === 200 && r.body.includes('"health":"true"') ? true : undefined;
        },
        { timeoutMs: ETCD_TIMEOUT_MS, what: 'etcd /health' },
      );
      return { pid, port, logPath, dataDir };
    } catch (e) {
      await stopGroup(pid, 2_000);
      const tail = logTail(logPath, 30);
      if (attempt < 3 && tail.includes('address already in use')) {
        await rm(dataDir, { recursive: true, force: true });
        continue;
      }
      throw new ControlPlaneError('LADDER_K8S_START', `etcd did not become healthy: ${(e as Error).message}\n--- etcd log ---\n${tail}`, { logPath }, { cause: e });
    }
  }
}

function apiserverArgs(options: { certs: Certs; etcdPort: number; port: number }): string[] {
  const { certs, etcdPort, port } = options;
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${certs.servingCert}`,
    `--tls-private-key-file=${certs.servingKey}`,
    `--client-ca-file=${certs.caCert}`,
    '--authorization-mode=RBAC',
    // TokenRequest: tests act as ServiceAccounts with bound tokens.
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${certs.saPub}`,
    `--service-account-signing-key-file=${certs.saKey}`,
    '--api-audiences=https://kubernetes.default.svc.cluster.local',
    '--service-cluster-ip-range=10.96.0.0/24',
    // No kubelets and no real Service network: do not publish the apiserver's own endpoints.
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
  ];
}

async function waitApiserverReady(state: ControlPlaneState, pid: number, timeoutMs: number): Promise<void> {
  const certs = { caCert: join(state.certsDir!, 'ca.crt'), adminCert: join(state.certsDir!, 'admin.crt'), adminKey: join(state.certsDir!, 'admin.key') };
  const tls = tlsOf(certs);
  await pollUntil(
    async () => {
      if (!isAlive(pid)) throw new ControlPlaneError('LADDER_K8S_START', 'kube-apiserver exited', {});
      const ready = await httpGet(`${state.server}/readyz`, tls);
      if (ready.status !== 200) return undefined;
      // The system namespaces are created by a post-start controller, a moment after /readyz.
      const ns = await httpGet(`${state.server}/api/v1/namespaces/default`, tls);
      return ns.status === 200 ? true : undefined;
    },
    { timeoutMs, what: 'kube-apiserver /readyz', intervalMs: 200 },
  );
}

async function startApiserver(state: ControlPlaneState, certs: Certs, port: number): Promise<NonNullable<ControlPlaneState['apiserver']>> {
  const logPath = join(state.runDir, 'logs', 'kube-apiserver.log');
  const args = apiserverArgs({ certs, etcdPort: state.etcd!.port, port });
  const pid = spawnDaemon(join(state.binDir!, 'kube-apiserver'), args, logPath);
  return { pid, port, logPath, args, restarts: 0 };
}

/**
 * Start etcd and kube-apiserver for the run whose state file is `statePath`, and write the
 * admin kubeconfig. Resolves with the ready state; on failure everything started is stopped.
 */
export async function startControlPlane(statePath: string): Promise<ControlPlaneState> {
  const state = readState(statePath);
  const t0 = Date.now();
  state.status = 'starting';
  writeState(statePath, state);
  try {
    const bins = await resolveBinaries();
    const tBins = Date.now();
    state.binDir = bins.binDir;
    state.helmPath = bins.helmPath;
    state.certsDir = join(state.runDir, 'pki');
    await mkdir(join(state.runDir, 'logs'), { recursive: true });
    const certs = await generateCerts(state.certsDir);
    const tCerts = Date.now();
    state.etcd = await startEtcd(bins.binDir, state.runDir);
    writePgids(state);
    const tEtcd = Date.now();
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      state.server = `https://127.0.0.1:${port}`;
      state.apiserver = await startApiserver(state, certs, port);
      writePgids(state);
      writeState(statePath, state);
      try {
        await waitApiserverReady(state, state.apiserver.pid, APISERVER_TIMEOUT_MS);
        break;
      } catch (e) {
        await stopGroup(state.apiserver.pid, 2_000);
        const tail = logTail(state.apiserver.logPath, 40);
        if (attempt < 3 && tail.includes('address already in use')) continue;
        throw new ControlPlaneError(
          'LADDER_K8S_START',
          `kube-apiserver did not become ready: ${(e as Error).message}\n--- kube-apiserver log ---\n${tail}`,
          { logPath: state.apiserver.logPath },
          { cause: e },
        );
      }
    }
    const tApi = Date.now();
    state.kubeconfigPath = join(state.runDir, 'admin.kubeconfig');
    await writeFile(
      state.kubeconfigPath,
      renderKubeconfig({
        server: state.server,
        caData: readFileSync(certs.caCert).toString('base64'),
        userName: 'ladder-admin',
        user: { clientCertificateData: readFileSync(certs.adminCert).toString('base64'), clientKeyData: readFileSync(certs.adminKey).toString('base64') },
      }),
      { mode: 0o600 },
    );
    state.timings = { certsMs: tCerts - tBins, etcdMs: tEtcd - tCerts, apiserverMs: tApi - tEtcd, totalMs: tApi - t0 };
    state.status = 'ready';
    writeState(statePath, state);
    return state;
  } catch (e) {
    for (const pid of [state.apiserver?.pid, state.etcd?.pid]) if (pid) await stopGroup(pid, 2_000);
    state.status = 'failed';
    state.error = (e as Error).message;
    writeState(statePath, state);
    throw e;
  }
}

/**
 * The ready control plane of this run, starting it if nobody has yet. Safe to call from several
 * jest workers at once: one takes a lock (mkdir) and starts, the others wait for its state.
 */
export async function ensureControlPlane(statePath = process.env[STATE_ENV]): Promise<ControlPlaneState> {
  if (!statePath || !existsSync(statePath)) {
    throw new ControlPlaneError(
      'LADDER_K8S_NOT_CONFIGURED',
      `$${STATE_ENV} is not set or its file is gone: run tests through jest with test/global-setup.ts (npm test / npm run jest)`,
      { statePath },
    );
  }
  const state = readState(statePath);
  if (state.status === 'ready') return state;
  if (state.status === 'failed') {
    throw new ControlPlaneError('LADDER_K8S_START', `the control plane failed to start earlier in this run: ${state.error}`, { statePath });
  }
  const lock = join(dirname(statePath), 'start.lock');
  let mine = false;
  try {
    await mkdir(lock);
    mine = true;
  } catch {
    // another worker is starting it
  }
  if (mine) return startControlPlane(statePath);
  return pollUntil(
    () => {
      const s = readState(statePath);
      if (s.status === 'failed') throw new ControlPlaneError('LADDER_K8S_START', `the control plane failed to start: ${s.error}`, { statePath });
      return s.status === 'ready' ? s : undefined;
    },
    { timeoutMs: 600_000, intervalMs: 250, what: 'another jest worker to start the control plane' },
  );
}

/**
 * Stop kube-apiserver (SIGTERM, SIGKILL after a grace period) and start it again with the same
 * arguments, port, certificates and etcd; resolves when it serves /readyz again.
 */
export async function restartApiserver(statePath = process.env[STATE_ENV]!, options: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<ControlPlaneState> {
  const state = readState(statePath);
  if (state.status !== 'ready' || !state.apiserver) {
    throw new ControlPlaneError('LADDER_K8S_START', 'no running kube-apiserver to restart', { statePath });
  }
  const old = state.apiserver;
  if (options.signal === 'SIGKILL') killGroup(old.pid, 'SIGKILL');
  // An open watch holds a graceful shutdown for ~10 s; tests want the restart, not the drain.
  await stopGroup(old.pid, 3_000);
  await writeFile(old.logPath, `\n===== ladder harness: restarting kube-apiserver at ${new Date().toISOString()} =====\n`, { flag: 'a' });
  for (let attempt = 1; ; attempt++) {
    const pid = spawnDaemon(join(state.binDir!, 'kube-apiserver'), old.args, old.logPath);
    state.apiserver = { ...old, pid, restarts: old.restarts + 1 };
    writePgids(state);
    writeState(statePath, state);
    try {
      await waitApiserverReady(state, pid, APISERVER_TIMEOUT_MS);
      return state;
    } catch (e) {
      await stopGroup(pid, 2_000);
      // The old listener may linger for a moment in the kernel; same port, so retry a little.
      if (attempt < 5 && logTail(old.logPath, 40).includes('address already in use')) continue;
      throw new ControlPlaneError(
        'LADDER_K8S_START',
        `kube-apiserver did not come back after a restart: ${(e as Error).message}\n--- kube-apiserver log ---\n${logTail(old.logPath, 40)}`,
        { logPath: old.logPath },
        { cause: e },
      );
    }
  }
}

/** Stop everything of a run and remove its folder (the watchdog then exits by itself). */
export async function teardownRun(statePath: string): Promise<void> {
  if (!existsSync(statePath)) return;
  const state = readState(statePath);
  // apiserver first: one that loses etcd mid-shutdown hangs. Short grace: nothing to save.
  for (const pid of [state.apiserver?.pid, state.etcd?.pid]) if (pid) await stopGroup(pid, 3_000);
  if (state.watchdogPid) killGroup(state.watchdogPid, 'SIGKILL');
  if (!process.env.LADDER_K8S_KEEP) await rm(state.runDir, { recursive: true, force: true });
}

/** Last resort from a process 'exit' handler: no awaiting possible, so SIGKILL and remove. */
export function teardownRunSync(statePath: string): void {
  if (!existsSync(statePath)) return;
  let state: ControlPlaneState;
  try {
    state = readState(statePath);
  } catch {
    return;
  }
  for (const pid of [state.apiserver?.pid, state.etcd?.pid]) if (pid) killGroup(pid, 'SIGKILL');
  if (state.watchdogPid) killGroup(state.watchdogPid, 'SIGKILL');
  rmSync(state.runDir, { recursive: true, force: true });
}

/** Write a file next to the run's other files (kubeconfigs for ServiceAccounts, values files). */
export async function writeRunFile(state: ControlPlaneState, name: string, content: string): Promise<string> {
  const path = join(state.runDir, 'files', name);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, path);
  return path;
}

/** Read the CA and admin credentials (base64) for building clients and kubeconfigs. */
export async function readCa(state: ControlPlaneState): Promise<string> {
  return (await readFile(join(state.certsDir!, 'ca.crt'))).toString('base64');
}
