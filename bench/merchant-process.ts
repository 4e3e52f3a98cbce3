/**
 * A fast merchant in its own process (HTTP 200 "success" at once), so in the throughput section
 * the merchant does not share an event loop with the worker or loop being measured. Prints its
 * URL as the first line on stdout; exits on SIGTERM.
 */
import { startMerchant } from '../src/demo/merchant.js';

const merchant = await startMerchant();
process.stdout.write(`${merchant.url}\n`);
process.once('SIGTERM', () => {
  void merchant.close().then(() => process.exit(0));
});
