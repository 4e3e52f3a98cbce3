/**
 * Test notifications in the format a pipeline's target expects. Pure: the caller passes the
 * ids and the clock reading, so the same inputs always give the same message.
 *
 * - `fromBody`: the seed's format, the body *is* the notify URL with an Alipay-style query string.
 * - `fromHeader`: a JSON body, the notify URL in the named header.
 * - `url`: a JSON body (WeChat Pay v3-like event); the pipeline's URL is fixed.
 */
import type { NotifyPipelineSpec } from '../api/index.js';

export interface NotificationInput {
  /** AMQP messageId, becomes `ladder-id` and `webhook-id`. */
  messageId: string;
  /** Merchant order number (`out_trade_no`). */
  orderId: string;
  /** Base notify URL for fromBody/fromHeader targets, e.g. http://127.0.0.1:8080/notify. */
  notifyUrl: string;
  /** Epoch ms, written into the notification's time field. */
  nowMs: number;
  /** Literal body instead of the generated one (the notify URL still goes in the header for fromHeader). */
  body?: string;
  /** Extra AMQP headers. */
  headers?: Record<string, string>;
}

export interface Notification {
  messageId: string;
  body: string;
  contentType: string;
  headers: Record<string, string>;
}

export const DEFAULT_NOTIFY_URL = 'http://127.0.0.1:8080/notify';

/** Alipay's asynchronous notification parameters (a representative subset). */
function alipayQuery(input: NotificationInput): string {
  const params = new URLSearchParams({
    notify_time: new Date(input.nowMs).toISOString().replace('T', ' ').slice(0, 19),
    notify_type: 'trade_status_sync',
    notify_id: input.messageId,
    out_trade_no: input.orderId,
    trade_no: `2024${input.orderId.replace(/[^0-9]/g, '').padStart(12, '0')}`,
    trade_status: 'TRADE_SUCCESS',
    total_amount: '88.88',
  });
  return params.toString();
}

function jsonEvent(input: NotificationInput): string {
  return JSON.stringify({
    id: input.messageId,
    create_time: new Date(input.nowMs).toISOString(),
    event_type: 'TRANSACTION.SUCCESS',
    out_trade_no: input.orderId,
    trade_state: 'SUCCESS',
    amount: { total: 8888, currency: 'CNY' },
  });
}

export function buildNotification(spec: NotifyPipelineSpec, input: NotificationInput): Notification {
  const target = spec.delivery.target;
  const headers: Record<string, string> = { ...input.headers };
  if (target.fromBody === true) {
    const sep = input.notifyUrl.includes('?') ? '&' : '?';
    return { messageId: input.messageId, body: input.body ?? `${input.notifyUrl}${sep}${alipayQuery(input)}`, contentType: 'text/plain', headers };
  }
  if (target.fromHeader !== undefined) headers[target.fromHeader] = input.notifyUrl;
  return { messageId: input.messageId, body: input.body ?? jsonEvent(input), contentType: 'application/json', headers };
}
