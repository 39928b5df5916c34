/** Names and units: what a device or a config may call things. */
import { z } from 'zod';

/** Identifier rule shared by sensors, metrics, gateway and source ids (docs/reference/config.md). */
export const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The rule for configs that name things (the gateway's, the simulator's, the device inventory). */
export const nameSchema = z.string().regex(NAME_PATTERN, { message: `must match ${NAME_PATTERN.source.slice(1, -1)}` });

export function isName(s: unknown): s is string {
  return typeof s === 'string' && NAME_PATTERN.test(s);
}

/** Units are free text from devices; bound them so a hostile payload cannot bloat every record. */
export const MAX_UNIT_LENGTH = 32;
