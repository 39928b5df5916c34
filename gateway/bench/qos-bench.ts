/**
 * What taking each MQTT message in exactly once costs: the gateway burst of the pipelines phase
 * (measureBurst) with the source subscribed at `qos: 1` and at `qos: 2`. The publisher sends at
 * QoS 2 in both, so that the broker's side and the publisher's are the same and only the
 * gateway's flow differs (QoS 1: PUBACK after the reading's commit; QoS 2: the message held in
 * one commit before PUBREC, taken in by another before PUBCOMP). Rounds alternate the two so that
 * noise from the shared machine hits both alike; the best round of each counts.
 */
import { type Bench, launchGateway, measureBurst, type PipelineResult } from './pipelines.js';

export interface QosRun extends PipelineResult {
  qos: 1 | 2;
  round: number;
}

export interface QosBenchResult {
  readingsPerRun: number;
  rounds: number;
  runs: QosRun[];
  best: { qos1: QosRun; qos2: QosRun };
  /** Best QoS 2 readings/s divided by best QoS 1 readings/s. */
  qos2OverQos1: number;
}

export async function benchQos(
  b: Bench,
  o: { readings: number; rounds: number; onRun?: (r: QosRun) => void },
): Promise<QosBenchResult> {
  const runs: QosRun[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const qos of [1, 2] as const) {
      const gw = await launchGateway(b, `qos${qos}-${round}`, { qos: { subscribe: qos, publish: 2 } });
      try {
        const run = { ...(await measureBurst(b, gw, o.readings)), qos, round };
        runs.push(run);
        o.onRun?.(run);
      } finally {
        await gw.stop();
      }
    }
  }
  const best = (qos: 1 | 2) =>
    runs.filter((r) => r.qos === qos).reduce((x, y) => (y.readingsPerSecond > x.readingsPerSecond ? y : x));
  const qos1 = best(1);
  const qos2 = best(2);
  return {
    readingsPerRun: o.readings,
    rounds: o.rounds,
    runs,
    best: { qos1, qos2 },
    qos2OverQos1: qos2.readingsPerSecond / qos1.readingsPerSecond,
  };
}
