/**
 * Test helper: the driver the gateway itself would build for a simulated device, from the source
 * the device describes (validated by the gateway's config schema, built by its driver factory).
 */
import type { Driver } from '../../../drivers/driver.js';
import { validateConfig } from '../../../gateway/config/config.js';
import { createDriver, type DriverHooks } from '../../../gateway/ingest/sources.js';
import type { SimDevice } from '../../device.js';

export function gatewayDriver(
  device: SimDevice,
  overrides: Record<string, unknown> = {},
  hooks: DriverHooks = {},
): Driver {
  const cfg = validateConfig({
    gateway: { id: 'sim-test' },
    kafka: { brokers: ['127.0.0.1:9'] },
    sources: [{ ...device.source(), ...overrides }],
  });
  return createDriver(cfg.sources[0]!, cfg.gateway.id, hooks);
}
