import { parseArgs } from 'node:util';
import { loadPipelineFile } from '../../api/index.js';
import { redact } from '../../common/index.js';
import { planTopology } from '../../topology/index.js';
import { listParked, requeueParked, type ParkedEntry } from '../../worker/parked.js';
import { amqpUrlFrom, DEFAULT_AMQP_URL, pickPipeline, positiveInt, UsageError, type Command } from '../command.js';

const DEFAULT_LIMIT = 50;

const HELP = `Usage: ladder parked -f FILE <list|requeue> [--pipeline NAME] [--limit N] [--id ID ...] [--json]

Operates on a pipeline's parking queue (ladder.<namespace>.<name>.parked), where a worker puts a
notification after the last rung of its ladder or when it cannot be delivered at all.

  list     print up to --limit parked notifications (default ${DEFAULT_LIMIT}): ladder-id, attempts,
           first seen, parked reason, the start of the body; then the queue depth. Nothing is
           consumed: each message is fetched unacked and given back.
  requeue  move parked notifications back to the work queue for a fresh climb (ladder-attempt
           reset to 0, ladder-parked-reason removed, ladder-requeued-at added; ladder-id and
           ladder-first-seen kept). Each is published mandatory and publisher-confirmed, and
           its parked copy is acked only after the confirm. All of them by default, at most
           --limit, or only those whose ladder-id is given with --id.

Options:
  -f, --file FILE      NotifyPipeline file (the first pipeline, or the one named by --pipeline)
      --pipeline NAME  pick a pipeline in a file that holds several
      --limit N        list: show at most N (default ${DEFAULT_LIMIT}); requeue: move at most N (default all)
      --id ID          requeue only this ladder-id (repeatable; every parked copy of it moves)
      --json           list: one JSON object per message, then {"queue","depth","listed"}

Environment: AMQP_URL (default ${DEFAULT_AMQP_URL}).
Exits 0 on success, 1 when the broker or a queue is unavailable, a republish is not confirmed,
or an --id was not found among the parked messages, 2 on a bad file or flags.`;

/** One human-readable line; reason and body are JSON-quoted so a line stays a line. */
export function formatEntry(e: ParkedEntry): string {
  return [
    e.id ?? '-',
    `attempts=${e.attempts}`,
    `first-seen=${e.firstSeen ?? '-'}`,
    `reason=${JSON.stringify(e.reason ?? '')}`,
    `body=${JSON.stringify(e.preview)}`,
  ].join('  ');
}

export const command: Command = {
  name: 'parked',
  summary: 'list parked notifications, or requeue them for a fresh climb',
  help: HELP,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          file: { type: 'string', short: 'f' },
          pipeline: { type: 'string' },
          limit: { type: 'string' },
          id: { type: 'string', multiple: true },
          json: { type: 'boolean' },
        },
        allowPositionals: true,
        strict: true,
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    const [action, ...extra] = positionals;
    if (action !== 'list' && action !== 'requeue') throw new UsageError(`expected "list" or "requeue", got ${action === undefined ? 'nothing' : `"${action}"`}`);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (values.file === undefined) throw new UsageError('-f FILE is required');
    if (action === 'list' && values.id !== undefined) throw new UsageError('--id applies to requeue only');
    if (action === 'requeue' && values.json === true) throw new UsageError('--json applies to list only');
    const limit = positiveInt('--limit', values.limit);
    const pipeline = pickPipeline(await loadPipelineFile(values.file), values.pipeline, values.file);
    const plan = planTopology({ namespace: pipeline.metadata.namespace, name: pipeline.metadata.name }, pipeline.spec);
    const amqpUrl = amqpUrlFrom(process.env);

    try {
      if (action === 'list') {
        const r = await listParked({ amqpUrl, plan, limit: limit ?? DEFAULT_LIMIT });
        for (const e of r.entries) process.stdout.write((values.json ? JSON.stringify(e) : formatEntry(e)) + '\n');
        process.stdout.write(
          values.json
            ? JSON.stringify({ queue: r.queue, depth: r.depth, listed: r.entries.length }) + '\n'
            : `${r.depth} parked in ${r.queue}${r.entries.length < r.depth ? ` (showing ${r.entries.length})` : ''}\n`,
        );
        return 0;
      }
      const ids = values.id === undefined ? undefined : new Set(values.id);
      const r = await requeueParked({ amqpUrl, plan, ...(limit !== undefined ? { limit } : {}), ...(ids !== undefined ? { ids } : {}) });
      process.stdout.write(`requeued ${r.requeued.length} notification(s) from ${r.queue} to ${r.work}\n`);
      let code = 0;
      if (r.failure !== undefined) {
        process.stderr.write(`ladder parked: ${r.failure.id} stayed parked: ${r.failure.error.message}; stopped there\n`);
        code = 1;
      }
      // With --limit reached, an id not moved may simply not have been looked at.
      if (ids !== undefined && r.failure === undefined && r.requeued.length < (limit ?? Infinity)) {
        const moved = new Set(r.requeued);
        const missing = [...ids].filter((id) => !moved.has(id));
        if (missing.length > 0) {
          process.stderr.write(`ladder parked: not found in ${r.queue}: ${missing.join(', ')}\n`);
          code = 1;
        }
      }
      return code;
    } catch (e) {
      // Never a stack here: it may quote the broker address. The errors themselves carry it redacted.
      const code = (e as { code?: unknown }).code;
      process.stderr.write(`ladder parked: ${redact((e as Error).message)}${typeof code === 'string' ? ` (${code})` : ''}\n`);
      return 1;
    }
  },
};
