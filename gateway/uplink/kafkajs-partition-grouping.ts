/**
 * kafkajs 2.2.4 groups a send's messages by partition with a reduce that copies the partition's
 * list once per message: quadratic, about 12 KB of garbage per reading at the thousand or so
 * readings per partition of one of the uplink's sends, half of all the gateway allocated in a burst.
 *
 * Replaced here by the same grouping in one pass (same partitions, same order within each).
 * kafkajs takes this function when its producer module loads, so the replacement has to be in
 * place first: import kafkajs through ./kafkajs.js, which installs it.
 */
import type { Message, PartitionerArgs, PartitionMetadata } from 'kafkajs';
import { swapKafkajsModule } from './kafkajs-module-swap.js';

interface GroupInput {
  topic: string;
  partitionMetadata: PartitionMetadata[];
  messages: Message[];
  partitioner(args: PartitionerArgs): number;
}

const GROUPING_MODULE = 'kafkajs/src/producer/groupMessagesPerPartition.js';
const SEND_MODULE = 'kafkajs/src/producer/sendMessages.js';

export function groupMessagesPerPartition({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupInput): Record<number, Message[]> {
  const groups: Record<number, Message[]> = {};
  if (partitionMetadata.length === 0) return groups;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    // biome-ignore lint/suspicious/noAssignInExpressions: the one-pass append is the point
    (groups[partition] ??= []).push(message);
  }
  return groups;
}

swapKafkajsModule(GROUPING_MODULE, groupMessagesPerPartition, SEND_MODULE);
