/**
 * The NotifyPipeline resource: the one source of truth for its shape.
 *
 * Everything else derives from this file: `ladder validate` parses with it, the worker and the
 * planner consume its output type, and the CRD's OpenAPI schema is generated from it
 * (`src/api/crd.ts`). Descriptions here are what `kubectl explain` shows; CEL rules attached
 * with `cel()` are what `kubectl apply` enforces, and the zod refinements next to them enforce
 * the same rule with the same message for files run without Kubernetes.
 */
import { z } from 'zod';
import { DURATION_PATTERN, formatDuration, parseDuration } from './duration.js';

export const API_GROUP = 'ladder.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'NotifyPipeline';
export const PLURAL = 'notifypipelines';

/** Limits shared by the zod schema, the CEL rules and the docs. */
export const LIMITS = {
  maxRungs: 30,
  /** x-message-ttl is a 32-bit count of ms; we cap rungs at 7 days to stay far from it. */
  maxRungMs: 7 * 24 * 3_600_000,
  maxTimeoutMs: 120_000,
  maxConcurrency: 1000,
  maxReplicas: 100,
  maxResponseBytes: 1 << 20,
} as const;

/** A CEL validation rule for the CRD (`x-kubernetes-validations`). */
interface CelRule { rule: string; message: string; messageExpression?: string; fieldPath?: string; reason?: string }
const cel = (...rules: CelRule[]) => ({ 'x-kubernetes-validations': rules });

const duration = (what: string, maxMs: number) =>
  z
    .string()
    .max(32)
    .superRefine((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration like 5m (use a number with ms, s, m or h, e.g. 200ms, 30s, 1m, 2h)` });
      } else if (ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `"${text}" must be longer than zero` });
      } else if (ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is longer than the ${what} limit of ${formatDuration(maxMs)}` });
      }
    })
    .meta(cel(
      // Item-level rules, so `kubectl apply` names the element (spec.retry.ladder[2]) and says
      // what is wrong in the same words as `ladder validate`.
      { rule: `self.matches('${DURATION_PATTERN}')`, messageExpression: `'"' + self + '" is not a duration like 5m (use a number with ms, s, m or h, e.g. 200ms, 30s, 1m, 2h)'`, message: 'is not a duration like 5m' },
      { rule: `!self.matches('${DURATION_PATTERN}') || (duration(self) > duration('0s') && duration(self) <= duration('${formatDuration(maxMs)}'))`, messageExpression: `'"' + self + '" must be longer than 0s and at most ${formatDuration(maxMs)}'`, message: `must be longer than 0s and at most ${formatDuration(maxMs)}` },
    ));

const secretKeyRef = (what: string, defaultKey: string) =>
  z
    .object({
      name: z.string().min(1).max(253).describe(`Name of a Secret in the pipeline's namespace that holds ${what}.`),
      key: z.string().min(1).max(253).default(defaultKey).describe(`Key inside the Secret (default "${defaultKey}").`),
    })
    .describe(`Reference to the Secret key holding ${what}.`);

// AMQP short strings are at most 255 bytes; these are the characters RabbitMQ's own tools accept.
const amqpName = z.string().max(255).regex(/^[A-Za-z0-9_.:\-/]*$/, 'may only contain letters, digits and _ . : - /');

export const RabbitmqSchema = z
  .object({
    secretRef: secretKeyRef('the AMQP URI (amqp://user:pass@host:5672/vhost or amqps://...)', 'uri').optional(),
  })
  .describe('How to reach RabbitMQ. The operator reads the URI from the Secret; `ladder run` reads $AMQP_URL instead.');

export const SourceSchema = z
  .object({
    exchange: amqpName.min(1).describe('Exchange that producers publish notifications to (the seed uses notifyExchange).'),
    exchangeType: z.enum(['topic', 'direct', 'fanout', 'headers']).default('topic').describe('Exchange type; must match how producers declare it.'),
    durable: z.boolean().default(true).describe('Exchange durability; must match how producers declare it (the seed declares a non-durable topic exchange: false).'),
    declare: z.boolean().default(true).describe('Declare the exchange if it is missing. false: only check that it exists, never redeclare it.'),
    routingKey: z.string().max(255).default('').describe('Routing key (binding pattern for topic exchanges) that producers use for these notifications.'),
  })
  .describe('Where producers publish today. Ladder binds its work queue here; producers do not change.');

export const RetrySchema = z
  .object({
    ladder: z
      .array(duration('rung', LIMITS.maxRungMs))
      .min(1, 'needs at least one rung, e.g. [30s, 1m, 5m]')
      .max(LIMITS.maxRungs, `may have at most ${LIMITS.maxRungs} rungs`)
      .describe('Delays between attempts, in order: after failed attempt n the notification waits ladder[n-1]. After the last rung fails it is parked. Each distinct delay gets its own queue, named by the delay.'),
  })
  .describe('The retry ladder.');

export const SUCCESS_PRESETS = ['alipay', 'wechatpay-v2', 'wechatpay-v3', 'http-2xx'] as const;
export type SuccessPreset = (typeof SUCCESS_PRESETS)[number];

export const SuccessSchema = z
  .object({
    preset: z.enum(SUCCESS_PRESETS).optional().describe('alipay: HTTP 200 and body exactly "success"; wechatpay-v2: XML <return_code>SUCCESS</return_code>; wechatpay-v3: HTTP 200 or 204; http-2xx: any 2xx (3xx is a failure).'),
    status: z.array(z.number().int().min(100).max(599)).max(50).optional().describe('Custom rule: HTTP statuses that count as success (default any 2xx when only bodyPattern is set).'),
    bodyPattern: z.string().max(1024).optional().describe('Custom rule: a regular expression the response body must match (tested on at most maxResponseBytes).'),
  })
  .superRefine((s, ctx) => {
    const custom = s.status !== undefined || s.bodyPattern !== undefined;
    if (s.preset !== undefined && custom) ctx.addIssue({ code: 'custom', message: 'set either preset or status/bodyPattern, not both' });
    if (s.preset === undefined && !custom) ctx.addIssue({ code: 'custom', message: 'set a preset (alipay, wechatpay-v2, wechatpay-v3, http-2xx) or a custom status/bodyPattern rule' });
    if (s.bodyPattern !== undefined) {
      try { new RegExp(s.bodyPattern); } catch (e) { ctx.addIssue({ code: 'custom', path: ['bodyPattern'], message: `is not a valid regular expression: ${(e as Error).message}` }); }
    }
  })
  .meta(cel(
    { rule: 'has(self.preset) != (has(self.status) || has(self.bodyPattern))', message: 'set either preset or status/bodyPattern, not both and not neither' },
  ))
  .describe('When is a merchant\'s answer a success. Anything else is retried on the next rung.');

export const TargetSchema = z
  .object({
    url: z.string().max(2048).optional().describe('Fixed callback URL (http or https) for every notification.'),
    fromHeader: z.string().min(1).max(255).optional().describe('Name of a message header holding the callback URL.'),
    fromBody: z.boolean().optional().describe('The seed\'s format: the message body is the notify URL with its query string; Ladder POSTs the query string as a form to that URL.'),
  })
  .superRefine((t, ctx) => {
    const n = Number(t.url !== undefined) + Number(t.fromHeader !== undefined) + Number(t.fromBody === true);
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'set exactly one of url, fromHeader or fromBody: true' });
    if (t.url !== undefined && !/^https?:\/\/[^\s/]+/.test(t.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: `"${t.url}" is not an http(s) URL like https://merchant.example/notify` });
  })
  .meta(cel(
    { rule: "(has(self.url) ? 1 : 0) + (has(self.fromHeader) ? 1 : 0) + (has(self.fromBody) && self.fromBody ? 1 : 0) == 1", message: 'set exactly one of url, fromHeader or fromBody: true' },
    { rule: "!has(self.url) || self.url.matches('^https?://[^\\\\s/]+')", message: 'url must be an http(s) URL like https://merchant.example/notify', fieldPath: '.url' },
  ))
  .describe('Where each notification is sent.');

const cidr = z.string().regex(/^[0-9a-fA-F:.]+\/[0-9]{1,3}$/, 'is not a CIDR like 10.1.0.0/16 or fd00::/8');

export const DeliverySchema = z
  .object({
    target: TargetSchema,
    method: z.enum(['POST', 'PUT']).default('POST').describe('HTTP method of the callback.'),
    timeout: duration('timeout', LIMITS.maxTimeoutMs).default('5s').describe('Per-attempt timeout, from connect to the end of the response.'),
    success: SuccessSchema.default({ preset: 'http-2xx' }),
    signing: z
      .object({ secretRef: secretKeyRef('the Standard Webhooks signing secret (whsec_... base64)', 'secret') })
      .optional()
      .describe('Sign every callback with a Standard Webhooks webhook-signature (HMAC-SHA256). `ladder run` reads $LADDER_SIGNING_SECRET instead.'),
    allowPrivateNetworks: z.boolean().default(false).describe('Allow callbacks to loopback, private, link-local and other non-public addresses. Off by default (SSRF protection).'),
    allowedCidrs: z.array(cidr).max(64).default([]).describe('Non-public networks callbacks may reach even when allowPrivateNetworks is false, e.g. [10.20.0.0/16].'),
    maxResponseBytes: z.number().int().min(64).max(LIMITS.maxResponseBytes).default(65536).describe('At most this many bytes of the merchant\'s answer are read and matched.'),
  })
  .describe('How notifications are delivered to the merchant.');

export const QueuesSchema = z
  .object({
    type: z.enum(['quorum', 'classic']).default('quorum').describe('RabbitMQ queue type for all of the pipeline\'s queues. Quorum (default) survives node loss and dead-letters at-least-once.'),
  })
  .describe('Queue settings.');

const quantity = z.string().regex(/^[0-9.]+[a-zA-Z]*$/, 'is not a quantity like 100m or 128Mi');
const resourceList = (what: string) =>
  z
    .object({
      cpu: quantity.optional().describe(`CPU ${what}, e.g. 100m.`),
      memory: quantity.optional().describe(`Memory ${what}, e.g. 128Mi.`),
    })
    .describe(`Resource ${what} of the worker container.`);

export const WorkersSchema = z
  .object({
    replicas: z.number().int().min(0).max(LIMITS.maxReplicas).default(2).describe('Worker pods (operator only).'),
    concurrency: z.number().int().min(1).max(LIMITS.maxConcurrency).default(32).describe('In-flight notifications per worker (AMQP prefetch).'),
    resources: z
      .object({ requests: resourceList('requests').optional(), limits: resourceList('limits').optional() })
      .optional()
      .describe('CPU and memory requests and limits of each worker pod (operator only).'),
  })
  .describe('Worker processes.');

export const NotifyPipelineSpecSchema = z
  .object({
    rabbitmq: RabbitmqSchema.default({}),
    source: SourceSchema,
    retry: RetrySchema,
    delivery: DeliverySchema,
    queues: QueuesSchema.default({ type: 'quorum' }),
    workers: WorkersSchema.default({ replicas: 2, concurrency: 32 }),
    deletionPolicy: z.enum(['Retain', 'Delete']).default('Retain').describe('On deletion of the resource: Retain (default) keeps the queues and their messages; Delete removes them, but only once every queue is empty.'),
  })
  .describe('Desired state of a NotifyPipeline.');

const k8sName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label: lower-case letters, digits and -, starting and ending with a letter or digit');

export const MetadataSchema = z
  .looseObject({
    name: k8sName,
    namespace: k8sName.default('default'),
    generation: z.number().int().optional(),
    uid: z.string().optional(),
  });

export const NotifyPipelineSchema = z.looseObject({
  apiVersion: z.literal(`${API_GROUP}/${API_VERSION}`, { error: `must be ${API_GROUP}/${API_VERSION}` }),
  kind: z.literal(KIND, { error: `must be ${KIND}` }),
  metadata: MetadataSchema,
  spec: NotifyPipelineSpecSchema,
});

export type NotifyPipelineSpec = z.output<typeof NotifyPipelineSpecSchema>;
export type NotifyPipelineSpecInput = z.input<typeof NotifyPipelineSpecSchema>;
export type NotifyPipeline = z.output<typeof NotifyPipelineSchema>;

// ---- status (written by the operator; the schema documents it for `kubectl explain`) ----

export const ConditionSchema = z.object({
  type: z.string().describe('Ready, TopologyReady or WorkersAvailable.'),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.number().int().optional(),
  lastTransitionTime: z.string().describe('When status last changed (RFC 3339).'),
  reason: z.string().describe('CamelCase reason.'),
  message: z.string().describe('What a person needs to know.'),
});
export type Condition = z.output<typeof ConditionSchema>;

export const NotifyPipelineStatusSchema = z
  .object({
    observedGeneration: z.number().int().optional().describe('Generation of the spec the status describes.'),
    conditions: z.array(ConditionSchema).optional().meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
    ladder: z.string().optional().describe('The ladder as a short text, e.g. 3s,30s,1m.'),
    workers: z.string().optional().describe('Ready/desired worker replicas, e.g. 2/2.'),
    readyReplicas: z.number().int().optional(),
    queues: z
      .object({
        work: z.string(),
        rungs: z.array(z.string()),
        parked: z.string(),
        draining: z.array(z.string()).optional().describe('Rungs no longer in the ladder, kept until they are empty.'),
      })
      .optional()
      .describe('Names of the RabbitMQ queues of this pipeline.'),
    depths: z
      .object({
        work: z.number().int(),
        delayed: z.number().int().describe('Messages waiting on all rungs.'),
        parked: z.number().int(),
        sampledAt: z.string(),
      })
      .optional()
      .describe('Queue depths sampled at the last reconcile.'),
  })
  .describe('Observed state, written by the operator.');
export type NotifyPipelineStatus = z.output<typeof NotifyPipelineStatusSchema>;
