// Pull + unpack of the multi-layer bench image with a cold cache: the image (and with it its
// content and snapshots) is removed before every pull. Throughput = compressed bytes / time.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { REGISTRY } from '../env.js';
import { addSample, metric, note, type Metric } from '../stats.js';
import { errorText, order, type BenchContext } from './context.js';

export const BIG_IMAGE = 'docker.io/bench/debian-big:1';
const BIG_REPO = 'bench/debian-big';

interface Manifest {
  layers: Array<{ size: number }>;
  config: { size: number };
}

/** Compressed size (config + layers) and layer count, from the loopback registry's manifest. */
export async function bigImageSize(): Promise<{ bytes: number; layers: number }> {
  const res = await fetch(`http://${REGISTRY}/v2/${BIG_REPO}/manifests/1`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json' },
  });
  if (!res.ok) throw new Error(`manifest of ${BIG_REPO}:1: HTTP ${res.status}`);
  const m = (await res.json()) as Manifest;
  return { bytes: m.config.size + m.layers.reduce((s, l) => s + l.size, 0), layers: m.layers.length };
}

function diskMB(dir: string): string {
  try {
    return (Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]) / 1e6).toFixed(1);
  } catch {
    return '?';
  }
}

export async function pullUnpack(ctx: BenchContext): Promise<Metric[]> {
  const iterations = ctx.quick ? 1 : 3;
  const { bytes, layers } = await bigImageSize();
  const time = metric('pull_time', `pull+unpack ${(bytes / 1e6).toFixed(0)} MB / ${layers} layers, cold`, 'ms');
  const tput = metric('pull_throughput', 'pull+unpack throughput (compressed bytes)', 'MB/s', { op: '>=', ratio: 1.5 });
  const stall = metric('rpc_during_pull', 'Version RPC latency while pulling (event-loop stalls)', 'ms');
  const failed = new Set<string>();
  for (let i = 0; i < iterations; i++) {
    for (const rt of order(ctx.runtimes, i)) {
      if (failed.has(rt.name)) continue;
      try {
        await rt.client.image.RemoveImage({ image: { image: BIG_IMAGE } }).catch(() => undefined);
        if (i === 1) note(time, `${rt.label}: root dir after RemoveImage: ${diskMB(rt.rootDir)} MB (a cold pull needs it back near its pre-pull size)`);
        const t0 = performance.now();
        const pulling = rt.client.image.PullImage({ image: { image: BIG_IMAGE } }, 600_000);
        let done = false;
        void pulling.finally(() => (done = true)).catch(() => undefined);
        // A kubelet keeps calling the runtime during pulls: probe how long a trivial RPC waits.
        const probe = (async () => {
          while (!done) {
            const p0 = performance.now();
            await rt.client.runtime.Version({ version: 'v1' }).catch(() => undefined);
            if (!done) addSample(stall, rt.name, performance.now() - p0);
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        await pulling;
        const ms = performance.now() - t0;
        await probe;
        addSample(time, rt.name, ms);
        addSample(tput, rt.name, bytes / 1e6 / (ms / 1000));
        if (i === 0) {
          const st = await rt.client.image.ImageStatus({ image: { image: BIG_IMAGE } });
          note(time, `${rt.label}: root dir after pull: ${diskMB(rt.rootDir)} MB; image size reported ${((Number(st.image?.size ?? 0)) / 1e6).toFixed(0)} MB`);
        }
      } catch (e) {
        failed.add(rt.name);
        for (const m of [time, tput, stall]) note(m, `${rt.label} failed: ${errorText(e)}`);
        ctx.log(`pull: ${rt.label} failed: ${errorText(e)}`);
      }
    }
  }
  for (const rt of ctx.runtimes) await rt.client.image.RemoveImage({ image: { image: BIG_IMAGE } }).catch(() => undefined);
  return [time, tput, stall];
}
