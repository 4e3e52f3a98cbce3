/**
 * Helpers for the chart tests: render the chart with helm, and the operator's RBAC contract
 * (the list agreed in the interfaces) in a form tests can compare against.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ControlPlane, ExecResult } from '../../k8s/harness.js';

export const CHART_DIR = resolve(import.meta.dirname, '../../../charts/ladder');
export const REPO = resolve(import.meta.dirname, '../../..');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

/** Run helm with `values` written to a temporary values file (no --set quoting surprises). */
export async function helmWithValues(cp: ControlPlane, args: string[], values: Record<string, unknown> = {}): Promise<ExecResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ladder-values-'));
  try {
    const file = join(dir, 'values.yaml');
    // JSON is YAML, and immune to YAML 1.1 surprises in helm's parser (`yes` = true).
    writeFileSync(file, JSON.stringify(values));
    return await cp.helm([...args, '-f', file], { timeoutMs: 120_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm template`; throws with helm's stderr when it fails. */
export async function renderChart(cp: ControlPlane, release: string, namespace: string, values: Record<string, unknown> = {}): Promise<{ text: string; objects: K8sObject[] }> {
  const r = await helmWithValues(cp, ['template', release, CHART_DIR, '--namespace', namespace], values);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
  const objects = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
  return { text: r.stdout, objects };
}

export function find(objects: K8sObject[], kind: string, name?: string, namespace?: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name) && (namespace === undefined || o.metadata.namespace === namespace));
}

/** Every verb RBAC knows for a resource; the tables check each one. */
export const ALL_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'] as const;

export interface Grant {
  group: string;
  resource: string; // may be "resource/subresource"
  verbs: string[];
}

/** The contract: what the operator may do in each namespace it manages. */
export const NAMESPACED_GRANTS: Grant[] = [
  { group: 'ladder.dev', resource: 'notifypipelines', verbs: ['get', 'list', 'watch', 'update', 'patch'] },
  { group: 'ladder.dev', resource: 'notifypipelines/status', verbs: ['get', 'update', 'patch'] },
  { group: 'ladder.dev', resource: 'notifypipelines/finalizers', verbs: ['update'] },
  { group: 'apps', resource: 'deployments', verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
  { group: '', resource: 'configmaps', verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
  { group: '', resource: 'secrets', verbs: ['get'] },
  { group: '', resource: 'events', verbs: ['create', 'patch'] },
  { group: 'events.k8s.io', resource: 'events', verbs: ['create', 'patch'] },
];

/** The contract: leader election in the release namespace. */
export const LEASE_GRANT: Grant = { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'] };

/** Flatten rules to sorted "group|resource|verb[|name]" strings, for exact comparisons. */
export function flattenRules(rules: Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules)
    for (const g of r.apiGroups ?? [''])
      for (const res of r.resources ?? [])
        for (const v of r.verbs)
          if (r.resourceNames?.length) for (const n of r.resourceNames) out.add(`${g}|${res}|${v}|${n}`);
          else out.add(`${g}|${res}|${v}`);
  return [...out].sort();
}

export function flattenGrants(grants: Grant[]): string[] {
  return grants.flatMap((g) => g.verbs.map((v) => `${g.group}|${g.resource}|${v}`)).sort();
}
