/**
 * LZ4 for kafkajs, which ships gzip only. Kafka's LZ4 is the LZ4 frame format; lz4-napi
 * (prebuilt, maintained) provides it. Loaded only when the config asks for lz4.
 */
import kafkajs from 'kafkajs';

// kafkajs is CommonJS and its codec registry is not visible to ESM named imports.
const { CompressionCodecs, CompressionTypes } = kafkajs;

export async function registerLz4(): Promise<void> {
  const lz4 = await import('lz4-napi');
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: (encoder: { buffer: Buffer }) => lz4.compressFrame(encoder.buffer),
    decompress: (buffer: Buffer) => lz4.decompressFrame(buffer),
  });
}
