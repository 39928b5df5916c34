/**
 * How the commands that run off the device (fleet, consume) reach Kafka: the `kafka:` section of a
 * config file (TLS, SASL and all), or flags checked by the same schema. Problems are named by flag.
 */
import { type Config, configSchema, kafkaForCommand } from '../config/config.js';

export interface KafkaFlags {
  config?: string;
  brokers?: string;
  topic?: string;
  ssl?: boolean;
  saslMechanism?: string;
  saslUsername?: string;
}

const kebab = (flag: string) => flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The Kafka settings the flags describe; undefined when they cannot (the reasons are in `problems`). */
export function kafkaFromFlags(
  o: KafkaFlags,
  env: NodeJS.ProcessEnv,
  topicKey: 'topic' | 'statusTopic',
  problems: string[],
): Config['kafka'] | undefined {
  if (o.config !== undefined) {
    for (const flag of ['brokers', 'ssl', 'saslMechanism', 'saslUsername'] as const) {
      if (o[flag] !== undefined)
        problems.push(`--${kebab(flag)}: not with --config (the file's kafka: section says how to connect)`);
    }
    return kafkaForCommand(o.config, env, topicKey, o.topic, problems);
  }
  if (o.brokers === undefined) {
    problems.push('--brokers or --config: one of them is required');
    return undefined;
  }
  const password = env.SENSORGATE_FLEET_SASL_PASSWORD;
  if (o.saslMechanism && (!o.saslUsername || password === undefined))
    problems.push('--sasl-mechanism: needs --sasl-username and SENSORGATE_FLEET_SASL_PASSWORD');
  const parsed = configSchema.shape.kafka.safeParse({
    brokers: o.brokers
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    [topicKey]: o.topic,
    tls: o.ssl,
    sasl:
      o.saslMechanism && o.saslUsername && password !== undefined
        ? { mechanism: o.saslMechanism, username: o.saslUsername, password }
        : undefined,
  });
  if (parsed.success) return parsed.data;
  for (const i of parsed.error.issues) {
    const key = String(i.path[0]);
    problems.push(`${key === topicKey ? '--topic' : key === 'brokers' ? '--brokers' : key}: ${i.message}`);
  }
  return undefined;
}
