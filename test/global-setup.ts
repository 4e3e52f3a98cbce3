/**
 * Jest global setup: prepares the Kubernetes test control plane for this run.
 *
 * Always: a run folder + state file ($LADDER_K8S_STATE, inherited by the test workers), a
 * watchdog that cleans up if jest dies, and an exit handler. The control plane itself (etcd +
 * kube-apiserver, ~10-20 s) starts here only when a selected test file lives under test/k8s/,
 * test/operator/ or test/chart/, so unit-test runs stay fast. When the selection cannot be known
 * here (--onlyChanged, --findRelatedTests…), the first test that calls getControlPlane() starts it.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '@jest/types';

/**
 * Jest loads this file through ts-jest but its imports through Node's own ESM loader, which does
 * not map `./x.js` to `./x.ts`; so the control plane module (kept loadable by Node's type
 * stripping) is imported by its real file name.
 */
export type ControlPlaneModule = typeof import('./k8s/controlplane.js');
export function loadControlPlaneModule(): Promise<ControlPlaneModule> {
  return import(new URL('./k8s/controlplane.ts', import.meta.url).href) as Promise<ControlPlaneModule>;
}

const K8S_TEST_DIRS = ['test/k8s', 'test/operator', 'test/chart'];

function testFilesUnder(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile() && e.name.endsWith('.test.ts')).map((e) => join(e.parentPath, e.name));
}

interface PatternsLike {
  isSet?: () => boolean;
  toExecutor?: (o: { rootDir: string }) => { isMatch(path: string): boolean };
}

/** true/false when the selection is known; undefined when only the test run can tell. */
export function selectsK8sTests(globalConfig: Config.GlobalConfig): boolean | undefined {
  if (globalConfig.listTests) return false;
  if (globalConfig.onlyChanged || globalConfig.findRelatedTests || globalConfig.changedSince || globalConfig.lastCommit) return undefined;
  const root = globalConfig.rootDir;
  const candidates = K8S_TEST_DIRS.flatMap((d) => testFilesUnder(resolve(root, d)));
  if (candidates.length === 0) return false;
  if (globalConfig.runTestsByPath) {
    const wanted = new Set(globalConfig.nonFlagArgs.map((a) => resolve(root, a)));
    return candidates.some((c) => wanted.has(c));
  }
  const patterns = globalConfig.testPathPatterns as unknown as PatternsLike;
  if (typeof patterns?.toExecutor !== 'function' || typeof patterns.isSet !== 'function') return undefined;
  if (!patterns.isSet()) return true;
  const executor = patterns.toExecutor({ rootDir: root });
  return candidates.some((c) => executor.isMatch(c));
}

export default async function globalSetup(globalConfig: Config.GlobalConfig): Promise<void> {
  const { ensureControlPlane, initRun, STATE_ENV, teardownRunSync } = await loadControlPlaneModule();
  const statePath = await initRun({ ownerPid: process.pid });
  process.env[STATE_ENV] = statePath;
  // globalTeardown normally does this gracefully; this catches exits that skip it.
  process.once('exit', () => teardownRunSync(statePath));
  if (selectsK8sTests(globalConfig) !== true) return;
  try {
    const state = await ensureControlPlane(statePath);
    const t = state.timings!;
    process.stderr.write(
      `\n[k8s] control plane ready at ${state.server} in ${(t.totalMs / 1000).toFixed(1)} s ` +
        `(certs ${t.certsMs} ms, etcd ${t.etcdMs} ms, kube-apiserver ${t.apiserverMs} ms)\n`,
    );
  } catch (e) {
    // Unit tests still run; the k8s tests fail with this message from getControlPlane().
    process.stderr.write(`\n[k8s] control plane failed to start: ${(e as Error).message}\n`);
  }
}
