import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The files a docs example names under /etc/sensorgate (TLS certificates and keys, read when the
 * config is loaded so that a wrong path is a config error) exist on a device, not here: give the
 * example its own copy of that folder under `root`, with a PEM file at each path it names.
 */
export function withDeviceFiles(yaml: string, root: string): string {
  for (const [path] of yaml.matchAll(/\/etc\/sensorgate\/[A-Za-z0-9._/-]+/g)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  }
  return yaml.replaceAll('/etc/sensorgate/', `${root}/etc/sensorgate/`);
}
