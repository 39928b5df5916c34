/**
 * What goes onto one device: its config (validated here, before any image is touched, by the
 * gateway's own rules), its secrets and its hostname.
 *
 * Secrets never go into the config file: each is a credential named after the SENSORGATE_<PATH>
 * environment variable that overrides the config key it holds (SENSORGATE_KAFKA_SASL_PASSWORD
 * fills kafka.sasl.password). The config is validated with them applied, as the device will run it.
 * Credentials with other names (TLS keys, e.g. mqtt-client.key) are files the config refers to by
 * their path under /run/credentials/sensorgate.service/ (docs/deploy.md).
 */
import type { Document } from 'yaml';

/**
 * The gateway's config rules, handed in by the command line: deploy does not import the gateway,
 * and a device's config must pass the very checks the device will run it through.
 */
export interface GatewayConfigRules {
  /** YAML text as a mapping, comments kept in `doc`; or one line per problem, naming `source`. */
  parseYaml(
    text: string,
    source: string,
  ): { doc: Document.Parsed; mapping: Record<string, unknown> } | { problems: string[] };
  /** Apply SENSORGATE_<PATH> overrides to a parsed config, in place: one line per variable that names no key. */
  applyEnv(raw: Record<string, unknown>, env: Readonly<Record<string, string>>): string[];
  /** One line per problem of a parsed config, naming its key; none when the gateway would run it. */
  validate(raw: unknown): string[];
  /** A key path as the gateway's problem lines write it: sources[0].password. */
  keyPath(path: readonly PropertyKey[]): string;
  /** Keys whose values are secrets, never written into a config file. */
  readonly secretKeys: ReadonlySet<string>;
}

/** A config, credentials or inventory that deploy refuses: one line per problem, each naming its key. */
export class DeployConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'DeployConfigError';
  }
}

export interface DevicePayload {
  /** The config file's text, written as given (comments kept). */
  readonly configText: string;
  /** Credential name (SENSORGATE_…) -> secret. */
  readonly credentials: Readonly<Record<string, string>>;
  readonly hostname?: string;
  /** gateway.id of the validated config. */
  readonly gatewayId: string;
  /** What the operator should know (a secret found inline and moved into the credentials). */
  readonly warnings: readonly string[];
}

/** The only directory the systemd unit lets the service write (StateDirectory=sensorgate). */
export const STATE_DIRECTORY = '/var/lib/sensorgate';

const ENV_CREDENTIAL = /^SENSORGATE_[A-Z0-9_]+$/;
const FILE_CREDENTIAL = /^(?!SENSORGATE_)[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HOSTNAME = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** Validate a device's config, credentials and hostname; every problem is one line naming its key. */
export function devicePayload(
  configText: string,
  givenCredentials: Record<string, string>,
  hostname: string | undefined,
  source: string,
  rules: GatewayConfigRules,
): DevicePayload {
  const parsed = rules.parseYaml(configText, source);
  if ('problems' in parsed) throw new DeployConfigError(parsed.problems);
  const { doc } = parsed;
  const inline = moveInlineSecrets(doc, givenCredentials, rules);
  if (inline.moved) configText = doc.toString();
  const credentials = inline.credentials;
  const raw = doc.toJS() as Record<string, unknown>; // the mapping parsed, less the secrets just moved out

  const problems: string[] = [];
  for (const name of Object.keys(credentials).filter((n) => !ENV_CREDENTIAL.test(n) && !FILE_CREDENTIAL.test(n))) {
    problems.push(
      `credentials.${name}: not a credential name: SENSORGATE_<PATH> (upper case, digits, _) for a config key, or a file name ([A-Za-z0-9._-])`,
    );
  }
  const overrides = Object.fromEntries(Object.entries(credentials).filter(([n]) => ENV_CREDENTIAL.test(n)));
  problems.push(...rules.applyEnv(raw, overrides).map((p) => `credentials.${p}`));
  if (hostname !== undefined && !HOSTNAME.test(hostname))
    problems.push(`hostname: "${hostname}" is not a valid host name (letters, digits and -, at most 63)`);

  const dataDir = (raw as { gateway?: { dataDir?: unknown } }).gateway?.dataDir;
  if (typeof dataDir === 'string' && dataDir !== STATE_DIRECTORY && !dataDir.startsWith(`${STATE_DIRECTORY}/`)) {
    problems.push(
      `gateway.dataDir: must be ${STATE_DIRECTORY} or below it on a device: the service may write nowhere else (remove the key for the default)`,
    );
  }
  problems.push(...rules.validate(raw));
  if (problems.length) throw new DeployConfigError(problems);
  return {
    configText,
    credentials,
    gatewayId: (raw as { gateway: { id: string } }).gateway.id, // valid, so there: the schema requires it
    warnings: inline.warnings,
    ...(hostname !== undefined ? { hostname } : {}),
  };
}

/** The SENSORGATE_<PATH> variable (and credential) that fills the key at `path`: authToken -> AUTH_TOKEN. */
function credentialName(path: readonly (string | number)[]): string {
  return `SENSORGATE_${path
    .map((p) =>
      String(p)
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .toUpperCase(),
    )
    .join('_')}`;
}

/**
 * A secret typed into the config (`password: …`, `authToken: …`) would travel in the image and
 * sit in /etc/sensorgate/config.yaml. Move each into the credentials, under the name of the key
 * it fills, delete it from the config text (comments kept), and say so. A credential given for
 * the same key wins over the inline value.
 */
function moveInlineSecrets(
  doc: Document.Parsed,
  given: Record<string, string>,
  rules: GatewayConfigRules,
): { credentials: Record<string, string>; warnings: string[]; moved: boolean } {
  const credentials = { ...given };
  const warnings: string[] = [];
  const found: Array<{ path: (string | number)[]; value: string }> = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, [...path, i]);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (rules.secretKeys.has(k) && (typeof x === 'string' || typeof x === 'number'))
          found.push({ path: [...path, k], value: String(x) });
        else walk(x, [...path, k]);
      }
    }
  };
  walk(doc.toJS(), []);
  for (const { path, value } of found) {
    const name = credentialName(path);
    doc.deleteIn(path);
    if (credentials[name] !== undefined) {
      warnings.push(
        `${rules.keyPath(path)}: a secret written in the config; the credential ${name} given for it wins, the inline value is left out`,
      );
      continue;
    }
    credentials[name] = value;
    warnings.push(
      `${rules.keyPath(path)}: a secret written in the config; moved into the credential ${name} (keep secrets out of config files: docs/deploy.md)`,
    );
  }
  return { credentials, warnings, moved: found.length > 0 };
}
