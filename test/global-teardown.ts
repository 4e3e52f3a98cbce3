/** Jest global teardown: stops etcd and kube-apiserver and removes the run folder. */

// Imported by file name for the reason given in global-setup.ts (Node's loader, not ts-jest's).
type ControlPlaneModule = typeof import('./k8s/controlplane.js');

export default async function globalTeardown(): Promise<void> {
  const { STATE_ENV, teardownRun } = (await import(new URL('./k8s/controlplane.ts', import.meta.url).href)) as ControlPlaneModule;
  const statePath = process.env[STATE_ENV];
  if (statePath) await teardownRun(statePath);
}
