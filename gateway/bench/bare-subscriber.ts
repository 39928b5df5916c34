/**
 * The floor under the gateway's steady figures: mqtt.js alone, subscribed to `<prefix>/#` at QoS 1
 * with the client options of the gateway's MQTT source that cost CPU or memory (MQTT 5, no write
 * cache, no trace), acknowledging each message and doing nothing else with it. Run as its own
 * process, with the gateway's Node flags:
 *   node dist/gateway/bench/bare-subscriber.js '{"url":…,"prefix":…}'
 * Reports on stdout, one JSON object per line: {"event":"ready"} once subscribed, then
 * {"event":"count","n":N} every 100 ms.
 */
import mqtt from 'mqtt';

const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

async function subscribe(o: { url: string; prefix: string }): Promise<void> {
  const client = await mqtt.connectAsync(o.url, {
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 0,
    writeCache: false,
    log: () => {},
  });
  let n = 0;
  client.on('message', () => n++);
  await client.subscribeAsync(`${o.prefix}/#`, { qos: 1 });
  emit({ event: 'ready' });
  setInterval(() => emit({ event: 'count', n }), 100);
}

subscribe(JSON.parse(process.argv[2] ?? '{}') as { url: string; prefix: string }).catch((err: Error) => {
  process.stderr.write(`bare subscriber: ${err.message}\n`);
  process.exit(1);
});
