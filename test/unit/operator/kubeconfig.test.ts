import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import { inClusterConnection, KubeconfigError, loadKubeconfigFile, loadKubeConnection } from '../../../src/operator/index.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ladder-kubeconfig-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('CA PEM') }): Promise<string> {
  const path = join(dir, `config-${Math.random().toString(16).slice(2)}`);
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }, { name: 'other', cluster: { server: 'https://other' } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'ops' } }],
      'current-context': 'ctx',
    }),
  );
  return path;
}

describe('loadKubeconfigFile', () => {
  test('client certificate data: server, CA, cert, key and namespace of the current context', async () => {
    const c = loadKubeconfigFile(await kubeconfig({ 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }));
    expect(c).toMatchObject({ server: 'https://127.0.0.1:6443', ca: 'CA PEM', cert: 'CERT', key: 'KEY', namespace: 'ops', insecureSkipTlsVerify: false });
    expect(await c.headers()).toEqual({});
  });

  test('a bearer token; files relative to the kubeconfig folder', async () => {
    await writeFile(join(dir, 'ca.crt'), 'CA FROM FILE');
    const c = loadKubeconfigFile(await kubeconfig({ token: 'abc' }, { server: 'https://k', 'certificate-authority': 'ca.crt' }));
    expect(c.ca).toBe('CA FROM FILE');
    expect(await c.headers()).toEqual({ authorization: 'Bearer abc' });
  });

  test('a token file is read (and trimmed)', async () => {
    await writeFile(join(dir, 'token'), 'from-file\n');
    const c = loadKubeconfigFile(await kubeconfig({ tokenFile: join(dir, 'token') }));
    expect(await c.headers()).toEqual({ authorization: 'Bearer from-file' });
  });

  test('exec plugins are refused with a clear error', async () => {
    const path = await kubeconfig({ exec: { command: 'aws' } });
    expect(() => loadKubeconfigFile(path)).toThrow(KubeconfigError);
    expect(() => loadKubeconfigFile(path)).toThrow(/exec or auth-provider plugin/);
  });

  test('a missing file or context is a KubeconfigError', async () => {
    expect(() => loadKubeconfigFile(join(dir, 'absent'))).toThrow(KubeconfigError);
    const path = await kubeconfig({ token: 'x' });
    expect(() => loadKubeconfigFile(path, 'nope')).toThrow(/has no context "nope"/);
  });
});

describe('in-cluster and defaults', () => {
  test('in-cluster: service host and port, the mounted CA, token and namespace', async () => {
    const sa = await mkdtemp(join(dir, 'sa-'));
    await writeFile(join(sa, 'ca.crt'), 'SA CA');
    await writeFile(join(sa, 'token'), 'sa-token');
    await writeFile(join(sa, 'namespace'), 'ladder-system');
    const c = inClusterConnection({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa);
    expect(c).toMatchObject({ server: 'https://10.0.0.1:443', ca: 'SA CA', namespace: 'ladder-system' });
    expect(await c.headers()).toEqual({ authorization: 'Bearer sa-token' });
  });

  test('without --kubeconfig, $KUBECONFIG is used; with neither and no service env, a clear error', async () => {
    const path = await kubeconfig({ token: 't' });
    expect(loadKubeConnection(undefined, { KUBECONFIG: `${path}:/elsewhere` }).server).toBe('https://127.0.0.1:6443');
    expect(() => loadKubeConnection(undefined, {})).toThrow(/pass --kubeconfig or set \$KUBECONFIG/);
  });
});
