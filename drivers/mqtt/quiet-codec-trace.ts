/**
 * Tracing that costs nothing while it is off, for the MQTT client's packet codec.
 *
 * mqtt-packet traces every packet it parses or writes through `debug`: about twenty calls for a
 * QoS 1 PUBLISH and its PUBACK. A `debug` tracer takes its arguments as a rest parameter, so each
 * call builds an array before it finds tracing off. In a gateway burst those arrays were 16 % of
 * all the bytes the process allocated (a sampling heap profile counting collected objects too),
 * while the garbage collector took a third of the main thread. mqtt.js's own trace has an option
 * for this (`log`, set in mqtt-driver.ts); mqtt-packet's has none.
 *
 * Loading this module puts a `debug` in Node's module cache that hands out the real tracer for the
 * namespaces DEBUG enables (DEBUG=mqtt-packet:* still traces) and, for the others, a function that
 * does nothing. mqtt-packet takes its tracers when it loads, so this must load first: mqtt-driver.ts
 * imports it before mqtt.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const codec = dirname(require.resolve('mqtt-packet', { paths: [dirname(require.resolve('mqtt'))] }));

/** Whether mqtt-packet had not loaded yet when this did: only then are its tracers the quiet ones. */
export const beforeCodec = require.cache[join(codec, 'parser.js')] === undefined;

type CreateDebug = ((namespace: string) => (...args: unknown[]) => void) & { enabled(namespace: string): boolean };
const debugPath = require.resolve('debug', { paths: [codec] });
const createDebug = require(debugPath) as CreateDebug;
const off = () => {};
require.cache[debugPath]!.exports = Object.assign(
  (namespace: string) => (createDebug.enabled(namespace) ? createDebug(namespace) : off),
  createDebug,
);
