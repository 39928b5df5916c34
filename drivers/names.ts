/** Names and units: what a device or a config may call things (the rule as a schema: name-schema.ts). */

/** Identifier rule shared by sensors, metrics, gateway and source ids (docs/reference/config.md). */
export const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function isName(s: unknown): s is string {
  return typeof s === 'string' && NAME_PATTERN.test(s);
}

/** Units are free text from devices; bound them so a hostile payload cannot bloat every record. */
export const MAX_UNIT_LENGTH = 32;
