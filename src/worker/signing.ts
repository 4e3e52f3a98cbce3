/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-signature:
 * v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, key = the base64 part of `whsec_<base64>`.
 * Pure: the timestamp is passed in. Verified against the `standardwebhooks` package in tests.
 */
import { createHmac } from 'node:crypto';
import { SigningSecretError } from './errors.js';

const PREFIX = 'whsec_';

/** The HMAC key of a `whsec_<base64>` secret. Throws SigningSecretError (without the secret). */
export function signingKey(secret: string): Buffer {
  const b64 = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new SigningSecretError('the part after whsec_ is not base64');
  const key = Buffer.from(b64, 'base64');
  if (key.length < 16) throw new SigningSecretError(`the key is ${key.length} bytes; use at least 16 (24-64 recommended)`);
  return key;
}

export function sign(key: Buffer, id: string, timestampSec: number, body: Buffer): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestampSec}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** The Standard Webhooks headers of one attempt. */
export function webhookHeaders(input: { id: string; timestampSec: number; body: Buffer; key?: Buffer | undefined }): Record<string, string> {
  const out: Record<string, string> = { 'webhook-id': input.id, 'webhook-timestamp': String(input.timestampSec) };
  if (input.key !== undefined) out['webhook-signature'] = sign(input.key, input.id, input.timestampSec, input.body);
  return out;
}
