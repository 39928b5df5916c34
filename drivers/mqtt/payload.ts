/**
 * The MQTT payload codec (docs/reference/wire-formats.md) and topic patterns. Pure functions, no I/O; the JSON
 * reading itself is shared with serial `jsonl` (../json-reading.ts).
 */
import { type Decoded, type DefaultNames, decodeJsonText, reject } from '../json-reading.js';

/** Where sensor and metric come from when the payload does not say. */
export type TopicNames = DefaultNames;

/** Decode an MQTT payload. `names` are what the topic pattern yielded. */
export function decodePayload(payload: Uint8Array, names: TopicNames, maxBytes: number): Decoded {
  if (payload.length > maxBytes) {
    return reject('too_large', `payload of ${payload.length} bytes exceeds ${maxBytes}`, payload);
  }
  // mqtt.js hands over Buffers: a view over the same bytes per message is needless garbage.
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  const text = bytes.toString('utf8');
  return decodeJsonText(text, names, payload);
}

/**
 * A compiled `topicPattern` such as `plant/{sensor}/{metric}`: each `{name}` captures one topic
 * level, `+` matches one level and `#` the rest. Without a pattern the last two levels are taken
 * as sensor and metric (a single level is the sensor, metric `value`). Several patterns (one per
 * subscription layout) are tried in order; the first that matches wins.
 */
export function compileTopicPattern(
  pattern: string | readonly string[] | undefined,
): (topic: string) => TopicNames | undefined {
  if (typeof pattern === 'object') {
    const matchers = pattern.map((p) => compileTopicPattern(p));
    return (topic) => {
      for (const match of matchers) {
        const names = match(topic);
        if (names) return names;
      }
      return undefined;
    };
  }
  if (!pattern) {
    return (topic) => {
      const levels = topic.split('/');
      if (levels.length === 1) return { sensor: levels[0], metric: 'value' };
      return { sensor: levels[levels.length - 2], metric: levels[levels.length - 1] };
    };
  }
  // Each level's meaning is worked out once: this runs for every message.
  const parts = pattern
    .split('/')
    .map((part) => ({ part, name: /^\{(sensor|metric)\}$/.exec(part)?.[1] as keyof TopicNames | undefined }));
  return (topic) => {
    const levels = topic.split('/');
    const names: TopicNames = {};
    for (let i = 0; i < parts.length; i++) {
      const { part, name } = parts[i]!;
      if (part === '#') return names;
      const level = levels[i];
      if (level === undefined) return undefined;
      if (name) names[name] = level;
      else if (part !== '+' && part !== level) return undefined;
    }
    return levels.length === parts.length ? names : undefined;
  };
}
