import { describe, expect, it } from 'vitest';
import type { ImageRecord, ImageStore } from '../image/image-store.js';
import { imageServiceHandlers, pinnedMatcher, toCriImage } from './image-service.js';

const img = (tags: string[], digests: string[] = []): ImageRecord => ({
  id: 'sha256:' + 'a'.repeat(64),
  repoTags: tags,
  repoDigests: digests,
  size: 1,
  config: { config: { User: '1001' } } as ImageRecord['config'],
  chainIds: [],
  pulledAt: '',
});

describe('pinned images', () => {
  it('match by tag or digest, in the short forms a config carries', () => {
    const pinned = pinnedMatcher(['busybox:1.36', `registry.k8s.io/pause@sha256:${'b'.repeat(64)}`]);
    expect(pinned(img(['docker.io/library/busybox:1.36']))).toBe(true);
    expect(pinned(img(['docker.io/library/busybox:latest']))).toBe(false);
    expect(pinned(img([], [`registry.k8s.io/pause@sha256:${'b'.repeat(64)}`]))).toBe(true);
    expect(toCriImage(img(['x:1']), true)).toMatchObject({ pinned: true, uid: { value: '1001' } });
  });

  it('refuse a reference that does not parse (at start-up, not silently)', () => {
    expect(() => pinnedMatcher(['Not A Ref'])).toThrow(/registry.pinned_images: "Not A Ref" is not an image reference/);
  });
});

describe('ImageSpec.runtime_handler', () => {
  const pulled: string[] = [];
  const store = { pull: async (ref: string) => (pulled.push(ref), img([ref])) } as unknown as ImageStore;
  const h = imageServiceHandlers(store, { handlers: ['runc', 'microvm'] });
  const ctx = { log: { info: () => undefined }, signal: new AbortController().signal } as unknown as Parameters<typeof h.PullImage>[1];

  it('a configured handler pulls into the one store every handler uses', async () => {
    await h.PullImage({ image: { image: 'busybox', runtime_handler: 'microvm' } } as Parameters<typeof h.PullImage>[0], ctx);
    expect(pulled).toEqual(['busybox']);
  });

  it('an unknown handler is NotFound, as in RunPodSandbox', async () => {
    const err = await h.PullImage({ image: { image: 'busybox', runtime_handler: 'kata' } } as Parameters<typeof h.PullImage>[0], ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'not-found', message: expect.stringContaining('runtime handler "kata" is not configured') });
  });
});
