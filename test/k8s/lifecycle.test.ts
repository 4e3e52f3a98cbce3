/**
 * Proof of the harness's own lifecycle: a control plane it starts is gone without a trace after
 * teardown, also when the owning process dies without running teardown (the watchdog); the
 * binaries come from $KUBEBUILDER_ASSETS when set; and the global setup starts the control plane
 * only for runs that select Kubernetes test files.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestPathPatterns } from '@jest/pattern';
import type { Config } from '@jest/types';
import { selectsK8sTests } from '../global-setup.js';
import { ensureControlPlane, initRun, isAlive, readState, repoRoot, resolveBinaries, teardownRun, type ControlPlaneState } from './controlplane.js';
import { eventually, getControlPlane } from './harness.js';

function tracesOf(state: ControlPlaneState) {
  return {
    etcd: isAlive(state.etcd!.pid),
    apiserver: isAlive(state.apiserver!.pid),
    watchdog: isAlive(state.watchdogPid!),
    runDir: existsSync(state.runDir),
  };
}

describe('the control plane lifecycle', () => {
  test('teardownRun stops etcd, kube-apiserver and the watchdog and removes the run folder', async () => {
    const statePath = await initRun({ ownerPid: process.pid });
    let state: ControlPlaneState | undefined;
    try {
      state = await ensureControlPlane(statePath);
      expect(tracesOf(state)).toEqual({ etcd: true, apiserver: true, watchdog: true, runDir: true });
      process.stderr.write(`[k8s] second control plane started in ${state.timings!.totalMs} ms ${JSON.stringify(state.timings)}\n`);
    } finally {
      await teardownRun(statePath);
    }
    await eventually(() => (isAlive(state!.watchdogPid!) ? undefined : true), { what: 'the watchdog to exit', timeoutMs: 5_000 });
    expect(tracesOf(state)).toEqual({ etcd: false, apiserver: false, watchdog: false, runDir: false });
  }, 240_000);

  test('the watchdog removes everything when the owning process dies without teardown', async () => {
    // A stand-in for the jest process: killed with SIGKILL, so no exit handler can run.
    const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
    const statePath = await initRun({ ownerPid: owner.pid! });
    let state: ControlPlaneState | undefined;
    try {
      state = await ensureControlPlane(statePath);
      expect(tracesOf(state)).toEqual({ etcd: true, apiserver: true, watchdog: true, runDir: true });
      owner.kill('SIGKILL');
      await eventually(
        () => {
          const t = tracesOf(state!);
          return !t.etcd && !t.apiserver && !t.watchdog && !t.runDir ? true : undefined;
        },
        { what: 'the watchdog to clean up', timeoutMs: 30_000, describe: () => JSON.stringify(tracesOf(state!)) },
      );
    } finally {
      owner.kill('SIGKILL');
      if (existsSync(statePath)) await teardownRun(statePath);
    }
  }, 240_000);

  test('the state of this run records where everything is', async () => {
    const cp = await getControlPlane();
    const state = readState(process.env.LADDER_K8S_STATE!);
    expect(state).toMatchObject({ status: 'ready', server: cp.server, kubeconfigPath: cp.kubeconfigPath, binDir: cp.binDir });
    expect(state.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(state.etcd!.logPath) && existsSync(state.apiserver!.logPath)).toBe(true);
  }, 240_000);
});

describe('finding the binaries', () => {
  test('$KUBEBUILDER_ASSETS wins when it holds kube-apiserver, etcd, kubectl and helm', async () => {
    const cp = await getControlPlane();
    const assets = mkdtempSync(join(tmpdir(), 'ladder-assets-'));
    try {
      for (const b of ['kube-apiserver', 'etcd', 'kubectl']) symlinkSync(join(cp.binDir, b), join(assets, b));
      writeFileSync(join(assets, 'helm'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      await expect(resolveBinaries(repoRoot(), { ...process.env, KUBEBUILDER_ASSETS: assets })).resolves.toEqual({
        binDir: assets,
        helmPath: join(assets, 'helm'),
      });
    } finally {
      rmSync(assets, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('which runs start the control plane', () => {
  const root = repoRoot();
  const config = (patterns: string[], extra: Partial<Config.GlobalConfig> = {}) =>
    ({ rootDir: root, testPathPatterns: new TestPathPatterns(patterns), nonFlagArgs: patterns, ...extra }) as unknown as Config.GlobalConfig;

  test.each([
    ['every test (no pattern)', true, [], {}],
    ['only unit tests', false, ['test/unit'], {}],
    ['one k8s file', true, ['test/k8s/crd.test.ts'], {}],
    ['a pattern matching a k8s file', true, ['kubectl'], {}],
    ['a pattern matching nothing under k8s dirs', false, ['schema'], {}],
    ['--listTests', false, [], { listTests: true }],
    ['--onlyChanged (unknown here: started lazily)', undefined, [], { onlyChanged: true }],
    ['--runTestsByPath with a k8s file', true, ['test/k8s/helm.test.ts'], { runTestsByPath: true }],
    ['--runTestsByPath with a unit file', false, ['test/unit/x.test.ts'], { runTestsByPath: true }],
  ] as const)('%s → %s', (_name, expected, patterns, extra) => {
    expect(selectsK8sTests(config([...patterns], extra))).toBe(expected);
  });
});
