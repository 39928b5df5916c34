/**
 * What exactly-once delivery costs: the gateway burst of the pipelines phase (measureBurst), once
 * with `kafka.delivery: at-least-once` and once with `exactly-once` (a Kafka transaction per batch,
 * plus the batch's highest seq in the offsets topic), the same batch limits in both. Every run is a
 * fresh gateway with its own topics, offsets topic and gateway id. Rounds alternate the two modes
 * so that noise from the shared machine hits both alike; the best round of each counts. Both are
 * timed by the gateway's acknowledged count (see launchGateway: exactly-once end offsets include
 * commit markers), so the clock stops the same way for both.
 */
import type { Config } from '../config/config.js';
import { type Bench, launchGateway, measureBurst, type PipelineResult } from './pipelines.js';

export type Delivery = Config['kafka']['delivery'];
const MODES: Array<{ delivery: Delivery; short: string }> = [
  { delivery: 'at-least-once', short: 'alo' },
  { delivery: 'exactly-once', short: 'eos' },
];

export interface DeliveryRun extends PipelineResult {
  delivery: Delivery;
  round: number;
  batchMaxRecords: number;
  batchMaxBytes: number;
}

export interface DeliveryBenchResult {
  readingsPerRun: number;
  rounds: number;
  /** The uplink's batch limits, the same for both modes (taken from the gateways' validated configs). */
  batchMaxRecords: number;
  batchMaxBytes: number;
  runs: DeliveryRun[];
  best: Record<Delivery, DeliveryRun>;
  /** Best exactly-once readings/s divided by best at-least-once readings/s. */
  exactlyOnceOverAtLeastOnce: number;
}

async function deliveryRun(
  b: Bench,
  delivery: Delivery,
  name: string,
  round: number,
  readings: number,
): Promise<DeliveryRun> {
  const gw = await launchGateway(b, name, { delivery, countBy: 'gateway' });
  try {
    const burst = await measureBurst(b, gw, readings);
    return {
      ...burst,
      delivery,
      round,
      batchMaxRecords: gw.kafka!.batchMaxRecords,
      batchMaxBytes: gw.kafka!.batchMaxBytes,
    };
  } finally {
    await gw.stop();
  }
}

export async function benchDelivery(
  b: Bench,
  o: { readings: number; rounds: number; onRun?: (r: DeliveryRun) => void },
): Promise<DeliveryBenchResult> {
  const runs: DeliveryRun[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const { delivery, short } of MODES) {
      const run = await deliveryRun(b, delivery, `${short}-${round}`, round, o.readings);
      runs.push(run);
      o.onRun?.(run);
    }
  }
  const limits = new Set(runs.map((r) => `${r.batchMaxRecords}/${r.batchMaxBytes}`));
  if (limits.size !== 1)
    throw new Error(`the modes ran with different batch limits (${[...limits].join(', ')}): not comparable`);
  const best = (d: Delivery) =>
    runs.filter((r) => r.delivery === d).reduce((x, y) => (y.readingsPerSecond > x.readingsPerSecond ? y : x));
  const alo = best('at-least-once');
  const eos = best('exactly-once');
  return {
    readingsPerRun: o.readings,
    rounds: o.rounds,
    batchMaxRecords: alo.batchMaxRecords,
    batchMaxBytes: alo.batchMaxBytes,
    runs,
    best: { 'at-least-once': alo, 'exactly-once': eos },
    exactlyOnceOverAtLeastOnce: eos.readingsPerSecond / alo.readingsPerSecond,
  };
}
