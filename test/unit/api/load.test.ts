import { describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipelineFile, parsePipelinesYaml, SpecError } from '../../../src/api/index.js';

const pipeline = (name: string, ladder = '[1s]') => `apiVersion: ladder.dev/v1alpha1
kind: NotifyPipeline
metadata: { name: ${name} }
spec:
  source: { exchange: ex }
  retry: { ladder: ${ladder} }
  delivery: { target: { fromBody: true } }
`;

function specError(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return e as SpecError;
  }
  throw new Error('expected a SpecError');
}

describe('parsePipelinesYaml', () => {
  test('reads every NotifyPipeline of a multi-document file and skips other kinds', () => {
    const text = `${pipeline('a')}---\napiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData: { uri: amqp://x }\n---\n${pipeline('b')}`;
    expect(parsePipelinesYaml(text).map((p) => p.metadata.name)).toEqual(['a', 'b']);
  });

  test('names the document and field of an invalid pipeline in a multi-document file', () => {
    const e = specError(() => parsePipelinesYaml(`${pipeline('a')}---\n${pipeline('b', '[1s, 2s, 5 minutes]')}`, 'f.yaml'));
    expect(e.source).toBe('f.yaml (document 2)');
    expect(e.issues).toEqual([{ path: 'spec.retry.ladder[2]', message: expect.stringMatching(/^"5 minutes" is not a duration like 5m/) }]);
  });

  test('reports YAML syntax errors with their line', () => {
    const e = specError(() => parsePipelinesYaml('apiVersion: ladder.dev/v1alpha1\nkind: [unclosed\n', 'bad.yaml'));
    expect(e.issues[0]?.path).toMatch(/^line \d+$/);
  });

  test('rejects a file with no NotifyPipeline', () => {
    const e = specError(() => parsePipelinesYaml('apiVersion: v1\nkind: Secret\nmetadata: { name: s }\n', 's.yaml'));
    expect(e.issues).toEqual([{ path: '(root)', message: 'holds no NotifyPipeline document' }]);
  });
});

describe('loadPipelineFile', () => {
  test('reads a file from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ladder-load-'));
    try {
      const file = join(dir, 'p.yaml');
      await writeFile(file, pipeline('disk'));
      expect((await loadPipelineFile(file))[0]?.metadata).toEqual({ name: 'disk', namespace: 'default' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('turns a missing file into a SpecError with its cause', async () => {
    const missing = join(tmpdir(), 'ladder-does-not-exist.yaml');
    await expect(loadPipelineFile(missing)).rejects.toMatchObject({
      code: 'LADDER_INVALID_SPEC',
      source: missing,
      issues: [{ path: '(file)', message: expect.stringMatching(/^cannot be read: .*ENOENT/) }],
      cause: expect.objectContaining({ code: 'ENOENT' }),
    });
  });
});
