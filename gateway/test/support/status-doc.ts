/** A status document as a gateway writes it to the status topic, with one source up and nothing wrong; `extra` overrides or adds fields. */
export function statusDoc(gateway: string, extra: Record<string, unknown> = {}) {
  const now = Date.now();
  return {
    gateway,
    version: '0.1.0',
    ts: now,
    uptimeS: 10,
    heartbeatIntervalMs: 1000,
    buffer: { depth: 0, bytes: 0, oldestTs: null },
    uplink: { connected: true, lastAckTs: now, lastError: null, sent: 0 },
    sources: [{ id: 's', driver: 'mqtt', state: 'up', lastReadingTs: null, readings: 0, rejected: 0 }],
    problems: [],
    ...extra,
  };
}
