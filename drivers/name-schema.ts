/**
 * The naming rule as a schema, for the configs that name things (the gateway's, the simulator's,
 * the device inventory). Apart from names.ts so that what runs on readings never loads zod.
 */
import { z } from 'zod';
import { NAME_PATTERN } from './names.js';

export const nameSchema = z.string().regex(NAME_PATTERN, { message: `must match ${NAME_PATTERN.source.slice(1, -1)}` });
