import { randomBytes } from 'node:crypto';
import { loadPipelineFile } from '../../api/index.js';
import { buildNotification, DEFAULT_NOTIFY_URL, type Notification } from '../../demo/notifications.js';
import { PublishError, publishNotifications } from '../../demo/publisher.js';
import { amqpUrlFrom, DEFAULT_AMQP_URL, parseFlags, pickPipeline, positiveInt, UsageError, type Command } from '../command.js';


const HELP = `Usage: ladder publish -f FILE [--count N] [--url URL | --body TEXT] [--header k=v ...] [--rate PER_SEC] [--pipeline NAME]

Publishes test notifications to the pipeline's source exchange with its routing key, as a
producer would: persistent, mandatory, publisher-confirmed, one messageId each. The format
follows the pipeline's target:
  fromBody    body = URL?notify_id=...&out_trade_no=...&trade_status=TRADE_SUCCESS (the seed's format)
  fromHeader  JSON body, URL in the named header
  url         JSON body (the pipeline's URL is fixed; --url does not apply)

Options:
  -f, --file FILE     NotifyPipeline file (the first pipeline, or the one named by --pipeline)
  -n, --count N       notifications to publish (default 1)
      --url URL       notify URL for fromBody/fromHeader targets (default ${DEFAULT_NOTIFY_URL})
      --body TEXT     literal message body instead of a generated one
      --header k=v    extra AMQP header, repeatable
      --rate PER_SEC  publish at most this many per second (default: as fast as confirms allow)
      --pipeline NAME pick a pipeline in a file that holds several

Environment: AMQP_URL (default ${DEFAULT_AMQP_URL}).
Exits 0 when every notification was confirmed and routed to a queue, 1 otherwise.`;

function parseHeaders(pairs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header must look like name=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export const command: Command = {
  name: 'publish',
  summary: 'publish test notifications to a pipeline\'s source exchange',
  help: HELP,
  async run(argv) {
    const { values } = parseFlags(argv, {
      file: { type: 'string', short: 'f' },
      count: { type: 'string', short: 'n' },
      url: { type: 'string' },
      body: { type: 'string' },
      header: { type: 'string', multiple: true },
      rate: { type: 'string' },
      pipeline: { type: 'string' },
    });
    if (values.file === undefined) throw new UsageError('-f FILE is required');
    if (values.url !== undefined && values.body !== undefined) throw new UsageError('use either --url or --body, not both');
    const count = positiveInt('--count', values.count) ?? 1;
    const rate = positiveInt('--rate', values.rate);
    const headers = parseHeaders(values.header);
    const pipeline = pickPipeline(await loadPipelineFile(values.file), values.pipeline, values.file);
    const { source, delivery } = pipeline.spec;
    if (values.url !== undefined && delivery.target.url !== undefined) {
      throw new UsageError(`pipeline ${pipeline.metadata.name} delivers to the fixed url ${delivery.target.url}; --url applies only to fromBody and fromHeader targets`);
    }
    const run = randomBytes(3).toString('hex');
    const nowMs = Date.now();
    function* messages(): Generator<Notification> {
      for (let i = 1; i <= count; i++) {
        yield buildNotification(pipeline.spec, {
          messageId: `ntf-${run}-${i}`,
          orderId: `order-${run}-${i}`,
          notifyUrl: values.url ?? DEFAULT_NOTIFY_URL,
          nowMs,
          ...(values.body !== undefined ? { body: values.body } : {}),
          headers,
        });
      }
    }
    const where = `exchange "${source.exchange}" (routing key "${source.routingKey}")`;
    try {
      const result = await publishNotifications({
        amqpUrl: amqpUrlFrom(process.env),
        exchange: source.exchange,
        routingKey: source.routingKey,
        messages: messages(),
        ...(rate !== undefined ? { ratePerSec: rate } : {}),
      });
      process.stdout.write(`published ${count} notification(s) to ${where}: ${result.confirmed} confirmed, ${result.returned} unroutable, in ${result.elapsedMs} ms\n`);
      if (result.returned > 0) {
        process.stderr.write(`ladder publish: ${result.returned} notification(s) reached no queue; is the pipeline running (\`ladder run -f ${values.file}\`) so its work queue is bound?\n`);
      }
      return result.confirmed === count ? 0 : 1;
    } catch (e) {
      if (e instanceof PublishError) {
        process.stderr.write(`ladder publish: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};
