/** A model from its config: the one place the simulator knows which models exist. */
import type { ModelConfig } from '../config.js';
import type { Random } from '../random.js';
import { Machine } from './machine.js';
import type { Model } from './model.js';
import { HOUR } from './model.js';
import { PumpFlow } from './pump-flow.js';
import { SwitchContact } from './switch-contact.js';

export function createModel(m: ModelConfig, random: Random): Model {
  switch (m.type) {
    case 'machine':
      return new Machine(
        {
          bearing: {
            timeToFailureMs: m.timeToFailure,
            lifeAtStart: m.lifeAtStart,
            baseRms: m.baseVibration,
            failureRms: m.failureVibration,
            growth: m.wearGrowth,
            noise: m.vibrationNoise,
            replaceAtFailure: m.replaceAtFailure,
          },
          load: { mean: m.load, sd: 0.1, correlationMs: 2 * HOUR },
          // A worn bearing's friction costs about a tenth of rated current.
          current: {
            noLoadA: m.noLoadCurrent,
            ratedA: m.ratedCurrent,
            frictionA: 0.1 * m.ratedCurrent,
            noiseA: 0.01 * m.ratedCurrent,
          },
          ambient: { meanC: m.ambient, swingC: m.ambientSwing },
          thermalLagMs: m.thermalLag,
          bearingRiseC: 25,
          wearHeatC: 20,
        },
        random,
      );
    case 'pump':
      return new PumpFlow({ flowLpm: m.flow, periodMs: m.period, duty: m.duty, noise: m.noise }, random);
    case 'switch':
      return new SwitchContact({ meanOpenMs: m.meanOpen, meanClosedMs: m.meanClosed }, random);
  }
}
