/**
 * The CustomResourceDefinition, generated from the zod schema (never written by hand).
 * `crds/notifypipelines.ladder.dev.yaml` is this function's output; a test fails when they drift.
 */
import { z } from 'zod';
import { API_GROUP, API_VERSION, KIND, NotifyPipelineSpecSchema, NotifyPipelineStatusSchema, PLURAL } from './schema.js';

type Json = { [k: string]: unknown };

// Keys a structural schema may not carry, or that zod emits for its own bookkeeping.
const DROPPED_KEYS = new Set(['$schema', 'additionalProperties', 'id', '$id']);

/**
 * Turn zod's OpenAPI-3.0 output into a structural schema: drop `additionalProperties: false`
 * (the apiserver prunes unknown fields anyway), drop zod bookkeeping, and keep only the JSON
 * Schema subset Kubernetes accepts.
 */
function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    if (DROPPED_KEYS.has(key)) continue;
    if (key === 'x-kubernetes-validations' || key === 'x-kubernetes-list-map-keys' || key === 'enum' || key === 'default' || key === 'required') {
      out[key] = value;
    } else out[key] = structural(value);
  }
  // zod emits both minimum and exclusiveMinimum forms for some checks; keep the schema lean.
  if (out['type'] === 'integer' && out['maximum'] === Number.MAX_SAFE_INTEGER) delete out['maximum'];
  if (out['type'] === 'integer' && out['minimum'] === Number.MIN_SAFE_INTEGER) delete out['minimum'];
  return out;
}

export function openApiSchema(schema: z.ZodType): Json {
  return structural(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' })) as Json;
}

export function notifyPipelineCrd(): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${API_GROUP}`, labels: { 'app.kubernetes.io/name': 'ladder', 'app.kubernetes.io/component': 'crd' } },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: 'notifypipeline', shortNames: ['np'], categories: ['ladder', 'all'] },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Exchange', type: 'string', jsonPath: '.spec.source.exchange' },
            { name: 'Routing Key', type: 'string', jsonPath: '.spec.source.routingKey' },
            { name: 'Ladder', type: 'string', jsonPath: '.status.ladder' },
            { name: 'Workers', type: 'string', jsonPath: '.status.workers' },
            { name: 'Parked', type: 'integer', jsonPath: '.status.depths.parked' },
            { name: 'Reason', type: 'string', priority: 1, jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A NotifyPipeline delivers notifications published to a RabbitMQ exchange to merchants over HTTP, retrying on a ladder of delays and parking what never succeeds.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: openApiSchema(NotifyPipelineSpecSchema),
                status: openApiSchema(NotifyPipelineStatusSchema),
              },
            },
          },
        },
      ],
    },
  };
}
