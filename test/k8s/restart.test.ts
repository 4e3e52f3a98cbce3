/**
 * Proof that restartApiserver() stops kube-apiserver and brings it back on the same address
 * with the same etcd: data written before is still there, old clients keep working, and a watch
 * that broke can be started again.
 */
import { readFileSync } from 'node:fs';
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import { isAlive, readState, STATE_ENV } from './controlplane.js';
import { createNamespace, eventually, getControlPlane, type ControlPlane, type TestNamespace } from './harness.js';

describe('restarting the test kube-apiserver', () => {
  let cp: ControlPlane;
  let ns: TestNamespace;

  beforeAll(async () => {
    cp = await getControlPlane();
    ns = await createNamespace('restart');
  }, 300_000);

  afterAll(async () => {
    await ns?.delete();
  });

  test.each(['SIGTERM', 'SIGKILL'] as const)('after %s it serves again on the same port with the same data', async (signal) => {
    const core = cp.kubeConfig().makeApiClient(CoreV1Api); // built before the restart on purpose
    const name = `before-${signal.toLowerCase()}`;
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name }, data: { signal } } });

    let watchEnded: unknown = 'running';
    const watch = await new Watch(cp.kubeConfig()).watch(`/api/v1/namespaces/${ns.name}/configmaps`, {}, () => {}, (err) => {
      watchEnded = err ?? null;
    });

    const oldPid = readState(process.env[STATE_ENV]!).apiserver!.pid;
    const started = Date.now();
    await cp.restartApiserver({ signal });
    const tookMs = Date.now() - started;
    const state = readState(process.env[STATE_ENV]!);

    expect(isAlive(oldPid)).toBe(false);
    expect(state.apiserver!.pid).not.toBe(oldPid);
    expect(state.server).toBe(cp.server);
    // The old watch saw its connection end.
    await eventually(() => (watchEnded !== 'running' ? true : undefined), { what: 'the old watch to end', timeoutMs: 10_000 });
    watch.abort();

    const cm = await core.readNamespacedConfigMap({ namespace: ns.name, name });
    expect(cm.data).toEqual({ signal });
    const log = readFileSync(state.apiserver!.logPath, 'utf8');
    expect(log.split('restarting kube-apiserver').length - 1).toBe(state.apiserver!.restarts);
    expect(cp.apiserverLogs(5).split('\n').length).toBeLessThanOrEqual(6);
    // A tell-tale for the report; generous bound so a busy machine does not fail it.
    expect(tookMs).toBeLessThan(60_000);
    process.stderr.write(`[k8s] kube-apiserver restart (${signal}) took ${tookMs} ms\n`);
  }, 120_000);
});
