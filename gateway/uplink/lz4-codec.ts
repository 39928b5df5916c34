/**
 * LZ4 for kafkajs, which ships gzip only. Kafka's LZ4 is the LZ4 frame format; lz4-napi
 * (prebuilt, maintained) provides it. The native module loads on first use, so a gateway that
 * never meets an LZ4 batch never loads it; registered by kafka-client.ts for every reader and writer.
 */
type Lz4 = typeof import('lz4-napi');

export function lz4Codec(): () => {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
} {
  let lz4: Promise<Lz4> | undefined;
  const load = () => (lz4 ??= import('lz4-napi'));
  return () => ({
    compress: async (encoder) => (await load()).compressFrame(encoder.buffer),
    decompress: async (buffer) => (await load()).decompressFrame(buffer),
  });
}
