/**
 * kafkajs 2.2.4 (its last release) re-arms a timer on every connection whenever its request queue
 * is checked, pending requests or not, with a negative delay: each connection wakes the process
 * about a thousand times a second for nothing (tulios/kafkajs#1556; the fix, #1667, was never
 * merged). On an idle gateway that alone cost 4 % of a core here, more on a Raspberry Pi.
 *
 * Replaced here by the fixed method: the queue is checked again only while requests wait in it
 * (a request that has to wait schedules the check when it is queued).
 */
import { createRequire } from 'node:module';

interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}

/** kafkajs's own interval for re-checking a queue whose requests wait (src/network/requestQueue). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

const require = createRequire(import.meta.url);
const RequestQueue: {
  prototype: RequestQueue & { scheduleCheckPendingRequests(): void };
} = require('kafkajs/src/network/requestQueue/index.js');

RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueue) {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const throttled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    throttled > 0 ? throttled : CHECK_PENDING_REQUESTS_INTERVAL,
  );
};
