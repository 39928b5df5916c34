/**
 * What `flash` and `provision` hand deploy/ of the gateway (which deploy does not import): the
 * gateway's config rules, so that a device's config is checked as the device will check it; and
 * deploy's refusals turned into the gateway's, so that they end the command as a refused config does.
 */
import { DeployConfigError, type GatewayConfigRules } from '../../deploy/flash/device-config.js';
import { applyEnv, ConfigError, formatPath, SECRET_KEYS, validateConfig } from '../config/config.js';
import { parseYamlMapping } from '../config/yaml-mapping.js';

export const gatewayConfigRules: GatewayConfigRules = {
  parseYaml: parseYamlMapping,
  applyEnv,
  validate: (raw) => {
    try {
      validateConfig(raw);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  },
  keyPath: formatPath,
  secretKeys: SECRET_KEYS,
};

/** `work`, with a config deploy refuses reported as the gateway's ConfigError (one line per problem, exit 2). */
export async function refusedAsConfigError<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof DeployConfigError) throw new ConfigError([...err.problems]);
    throw err;
  }
}
