/** Walking a zod schema by key, for what zod does not offer: naming known keys, setting a key from the environment. */
import type { z } from 'zod';

export type Obj = Record<string, unknown>;
/** The part of zod's schema introspection (`_zod.def`, `shape`) that walking the config by key needs. */
export interface SchemaNode {
  _zod: {
    def: {
      type: string;
      innerType?: SchemaNode;
      in?: SchemaNode;
      element?: SchemaNode;
      options?: SchemaNode[];
      discriminator?: string;
      values?: unknown[];
    };
  };
  shape?: Record<string, SchemaNode>;
}
export function unwrap(s: z.ZodType | SchemaNode): SchemaNode {
  // default/prefault/optional wrap the type we care about; a pipe (preprocess) its input.
  let cur = s as SchemaNode;
  while (cur._zod.def.innerType || cur._zod.def.type === 'pipe') cur = cur._zod.def.innerType ?? cur._zod.def.in!;
  return cur;
}
