/**
 * A record of the status topic, read defensively: anyone who can produce to the topic can put
 * anything there, so a record is checked against the status document's schema and refused with a
 * reason otherwise. Only the fields the schema knows are kept: a field unknown to this version
 * costs the sender nothing but could cost the fleet many times its size in memory (a few hundred
 * KB of `[{},{},…]` is tens of MB of heap), so it is dropped.
 */
import { type StatusView, statusSchema } from '../../status/status-document.js';

/** Larger than any real status (a few KB): a record beyond this is refused unread. */
export const MAX_STATUS_BYTES = 256 * 1024;

export type StatusRecord =
  | {
      kind: 'status';
      id: string;
      status: StatusView;
      /** Size of the status as kept (its JSON in UTF-8): what the fleet charges against its budget. */
      bytes: number;
    }
  | { kind: 'tombstone'; id: string }
  | {
      kind: 'rejected';
      reason: 'no_key' | 'too_large' | 'invalid_json' | 'invalid_status' | 'key_mismatch';
      detail: string;
    };

export function parseStatusRecord(key: Buffer | null, value: Buffer | null): StatusRecord {
  if (!key || key.length === 0) return { kind: 'rejected', reason: 'no_key', detail: 'record without a key' };
  const id = key.toString('utf8');
  // A null value is a tombstone: someone removed this gateway from the topic.
  if (value === null) return { kind: 'tombstone', id };
  if (value.length > MAX_STATUS_BYTES)
    return { kind: 'rejected', reason: 'too_large', detail: `${id}: ${value.length} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return { kind: 'rejected', reason: 'invalid_json', detail: `${id}: ${(err as Error).message}` };
  }
  const parsed = statusSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return {
      kind: 'rejected',
      reason: 'invalid_status',
      detail: `${id}: ${first?.path.join('.') || '(root)'}: ${first?.message}`,
    };
  }
  if (parsed.data.gateway !== id)
    return {
      kind: 'rejected',
      reason: 'key_mismatch',
      detail: `key ${id} carries the status of ${parsed.data.gateway}`,
    };
  // The parsed copy holds the known fields only (zod strips the rest at every level).
  return { kind: 'status', id, status: parsed.data, bytes: Buffer.byteLength(JSON.stringify(parsed.data)) };
}
