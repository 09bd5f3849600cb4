import { describe, expect, it } from 'vitest';
import { streamBytes, streamOf } from '../../src/util/bytes.js';

const chunked = (chunks: Uint8Array[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });

describe('streamBytes', () => {
  it('joins every chunk in order', async () => {
    const bytes = await streamBytes(chunked([Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3), Uint8Array.of(4, 5, 6)]));
    expect([...bytes]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('gives an empty array for an empty stream', async () => {
    expect((await streamBytes(chunked([]))).length).toBe(0);
  });

  it('passes on the stream error', async () => {
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new Error('disk gone'));
      },
    });
    await expect(streamBytes(failing)).rejects.toThrow('disk gone');
  });
});

describe('streamOf', () => {
  it('gives the bytes as one chunk, and no chunk for none', async () => {
    const one = streamOf(Uint8Array.of(7, 8, 9)).getReader();
    expect([...((await one.read()).value ?? [])]).toEqual([7, 8, 9]);
    expect((await one.read()).done).toBe(true);
    expect((await streamOf(new Uint8Array(0)).getReader().read()).done).toBe(true);
  });
});
