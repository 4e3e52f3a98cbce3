/** Parse and validate NotifyPipeline documents from YAML or from objects read off the API server. */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { formatPath, SpecError, type SpecIssue } from './errors.js';
import { KIND, NotifyPipelineSchema, type NotifyPipeline } from './schema.js';

function issuesOf(error: z.ZodError, value: unknown): SpecIssue[] {
  return error.issues.map((issue) => {
    let message = issue.message;
    // zod's own messages for missing fields are terse; say what to do.
    if (issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined) message = `is required (${issue.expected})`;
    return { path: formatPath(issue.path), message };
  });
}

function valueAt(value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = value;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** Validate one object; throws SpecError naming every bad field. Defaults are filled in. */
export function parsePipeline(value: unknown, source = 'NotifyPipeline'): NotifyPipeline {
  const result = NotifyPipelineSchema.safeParse(value);
  if (!result.success) throw new SpecError(source, issuesOf(result.error, value), { cause: result.error });
  return result.data;
}

/** All NotifyPipelines in a YAML text (other kinds, e.g. a Secret in the same file, are skipped). */
export function parsePipelinesYaml(text: string, source = 'input'): NotifyPipeline[] {
  const docs = parseAllDocuments(text);
  const out: NotifyPipeline[] = [];
  docs.forEach((doc, i) => {
    const where = docs.length > 1 ? `${source} (document ${i + 1})` : source;
    if (doc.errors.length > 0) {
      throw new SpecError(where, doc.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: e.message })));
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    if (typeof value === 'object' && (value as { kind?: unknown }).kind !== KIND && (value as { kind?: unknown }).kind !== undefined) return;
    out.push(parsePipeline(value, where));
  });
  if (out.length === 0) throw new SpecError(source, [{ path: '(root)', message: `holds no ${KIND} document` }]);
  return out;
}

export async function loadPipelineFile(path: string): Promise<NotifyPipeline[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new SpecError(path, [{ path: '(file)', message: `cannot be read: ${(e as Error).message}` }], { cause: e });
  }
  return parsePipelinesYaml(text, path);
}
