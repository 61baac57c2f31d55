// Pull + unpack of a multi-layer bench image with a cold cache: the image (and with it its content
// and snapshots) is removed before every pull. Throughput = compressed bytes / time. Two images:
// the 68 MB / 6-layer one (bench/images/make-big-image.sh) and a ~1 GiB / 8-layer one
// (bench/images/make-huge-image.sh, issue #18), both in the loopback registry.
import { execFileSync } from 'node:child_process';
import { REGISTRY } from '../env.js';
import { addSample, metric, note, type Metric } from '../stats.js';
import { errorText, order, type BenchContext } from './context.js';
import { probeWhile, timed } from './rpc-probe.js';

export interface PullImage {
  /** Registry path and tag in the loopback registry. */
  repo: string;
  tag: string;
  /** Metric id prefix ('pull' → pull_time, pull_throughput, rpc_during_pull). */
  id: string;
  /** Cold pulls per runtime. */
  iterations: number;
}

/** As the runtimes pull it: through the docker.io mirror, like a pod spec naming it. */
export const imageRef = (img: Pick<PullImage, 'repo' | 'tag'>): string => `docker.io/${img.repo}:${img.tag}`;
export const BIG: Omit<PullImage, 'iterations'> = { repo: 'bench/debian-big', tag: '1', id: 'pull' };
export const HUGE: Omit<PullImage, 'iterations'> = { repo: 'bench/huge', tag: '1', id: 'pull1g' };
/** Kept for bench/tools: the 68 MB image's reference. */
export const BIG_IMAGE = imageRef(BIG);

interface Manifest {
  layers: Array<{ size: number }>;
  config: { size: number };
}

/** Compressed size (config + layers) and layer count, from the loopback registry's manifest. */
export async function imageSize(img: Pick<PullImage, 'repo' | 'tag'>): Promise<{ bytes: number; layers: number }> {
  const res = await fetch(`http://${REGISTRY}/v2/${img.repo}/manifests/${img.tag}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json' },
  });
  if (!res.ok) throw new Error(`manifest of ${img.repo}:${img.tag}: HTTP ${res.status}`);
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

const sizeLabel = (bytes: number): string => (bytes >= 2 ** 30 * 0.9 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 1e6).toFixed(0)} MB`);

export async function pullScenario(ctx: BenchContext, img: PullImage): Promise<Metric[]> {
  const ref = imageRef(img);
  const { bytes, layers } = await imageSize(img);
  const size = `${sizeLabel(bytes)} / ${layers} layers`;
  const time = metric(`${img.id}_time`, `pull+unpack ${size}, cold`, 'ms');
  const tput = metric(`${img.id}_throughput`, `pull+unpack throughput, ${size} (compressed bytes)`, 'MB/s', { op: '>=', ratio: 1.5 });
  const stall = metric(`rpc_during_${img.id}`, `Version RPC latency while pulling ${sizeLabel(bytes)} (event-loop stalls)`, 'ms');
  const failed = new Set<string>();
  for (let i = 0; i < img.iterations; i++) {
    for (const rt of order(ctx.runtimes, i)) {
      if (failed.has(rt.name)) continue;
      try {
        // Not there on the first pass: the cold pull starts from nothing either way.
        await rt.client.image.RemoveImage({ image: { image: ref } }).catch(() => undefined);
        if (i === 1) note(time, `${rt.label}: root dir after RemoveImage: ${diskMB(rt.rootDir)} MB (a cold pull needs it back near its pre-pull size)`);
        const pull = timed(() => rt.client.image.PullImage({ image: { image: ref } }, 1_800_000));
        const { ms } = await probeWhile(rt, stall, pull, 100);
        addSample(time, rt.name, ms);
        addSample(tput, rt.name, bytes / 1e6 / (ms / 1000));
        if (i === 0) {
          const st = await rt.client.image.ImageStatus({ image: { image: ref } });
          note(time, `${rt.label}: root dir after pull: ${diskMB(rt.rootDir)} MB; image size reported ${(Number(st.image?.size ?? 0) / 1e6).toFixed(0)} MB`);
        }
      } catch (e) {
        failed.add(rt.name);
        for (const m of [time, tput, stall]) note(m, `${rt.label} failed: ${errorText(e)}`);
        ctx.log(`${img.id}: ${rt.label} failed: ${errorText(e)}`);
      }
    }
  }
  // Disk back for the next scenario; a runtime that already lost the image has nothing to remove.
  for (const rt of ctx.runtimes) await rt.client.image.RemoveImage({ image: { image: ref } }).catch(() => undefined);
  return [time, tput, stall];
}

export const pullUnpack = (ctx: BenchContext): Promise<Metric[]> => pullScenario(ctx, { ...BIG, iterations: ctx.quick ? 1 : 3 });

/** ~1 GiB: one pull each in --quick (only when named: main leaves it out of --quick's default list), two otherwise. */
export const pullHuge = (ctx: BenchContext): Promise<Metric[]> => pullScenario(ctx, { ...HUGE, iterations: ctx.quick ? 1 : 2 });
