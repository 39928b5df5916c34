/**
 * The last line of defence around decoding device input. The decoders are total by design (any
 * bytes give a reading or a rejection); should one still throw, that input becomes a counted
 * `internal_error` rejection, quarantined with its bytes for diagnosis, and intake goes on. An
 * uncaught throw in a driver callback would end the process, and for MQTT the unacknowledged
 * message would be redelivered to end the next one too.
 */
import type { Rejection } from './driver.js';

/** How much of the input an internal error keeps for quarantine. */
const SAMPLE_BYTES = 1024;

export function internalError(err: unknown, input?: Uint8Array | string): Rejection {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return {
    reason: 'internal_error',
    detail: `decoder failed: ${message.slice(0, 200)}`,
    payload: input?.slice(0, SAMPLE_BYTES),
  };
}

/** `decode(input)`, or `onError(rejection)` when it throws. */
export function guarded<I extends Uint8Array | string, R>(
  decode: (input: I) => R,
  onError: (rejection: Rejection) => R,
): (input: I) => R {
  return (input) => {
    try {
      return decode(input);
    } catch (err) {
      return onError(internalError(err, input));
    }
  };
}
