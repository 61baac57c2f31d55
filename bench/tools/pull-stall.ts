// node dist/bench/tools/pull-stall.js [--image REF] [--rounds N] [--modes worker,thread]: the
// pull path in-process, A/B. Each round pulls the image cold (fresh root) once per mode, the
// modes' order alternating between rounds so load drift on a shared machine hits both alike:
//   worker  layers unpack in worker threads (unpackLayerInWorker, the daemon's path)
//   thread  layers unpack on the event loop (unpackLayerStream, the path before issue #18)
// While a pull runs, a pinger thread sends a message to the main thread every 20 ms and times the
// reply: a stand-in for a trivial RPC (Version) waiting for the event loop, measured by a clock the
// loop's stalls cannot hold up. Prints wall time, ping p50/p90/max and the load average per pull.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { ContentStore } from '../../pkg/image/content-store.js';
import { HostsConfig } from '../../pkg/image/hosts-config.js';
import { unpackLayerStream } from '../../pkg/image/layer-unpack.js';
import { pullImage, Semaphore } from '../../pkg/image/puller.js';
import { parseReference } from '../../pkg/image/reference.js';
import { RegistryClient } from '../../pkg/image/registry-client.js';
import { SnapshotStore } from '../../pkg/image/snapshots.js';
import { silentLogger } from '../../pkg/log/logger.js';
import { summarize } from '../stats.js';
import { REGISTRY } from '../env.js';

const PING_EVERY_MS = 20;

/** The pinger: its own event loop, so its timestamps are not delayed by the main thread's stalls. */
const PINGER = `
const { workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const port = workerData.port;
const samples = [];
let t0 = 0, stopped = false;
port.on('message', (m) => {
  if (m === 'stop') { stopped = true; port.postMessage({ samples }); port.close(); return; }
  samples.push(performance.now() - t0);
  setTimeout(ping, ${PING_EVERY_MS});
});
function ping() { if (stopped) return; t0 = performance.now(); port.postMessage('ping'); }
ping();
`;

async function withPinger<T>(run: () => Promise<T>): Promise<{ result: T; pings: number[] }> {
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (m: unknown) => {
    if (m === 'ping') port1.postMessage('pong');
  });
  const w = new Worker(PINGER, { eval: true, workerData: { port: port2 }, transferList: [port2 as MessagePort] });
  try {
    const result = await run();
    const pings = await new Promise<number[]>((resolve) => {
      port1.on('message', (m: unknown) => {
        if (typeof m === 'object' && m !== null && 'samples' in m) resolve((m as { samples: number[] }).samples);
      });
      port1.postMessage('stop');
    });
    return { result, pings };
  } finally {
    port1.close();
    await w.terminate();
  }
}

async function pullOnce(image: string, mode: string): Promise<{ ms: number; pings: number[] }> {
  const root = mkdtempSync(join(tmpdir(), 'bulkhead-pull-stall-'));
  try {
    const hosts = new HostsConfig(join(root, 'certs.d'), silentLogger);
    const deps = {
      registry: new RegistryClient({ hosts, log: silentLogger, progressTimeoutMs: 60_000 }),
      content: new ContentStore(root),
      snapshots: SnapshotStore.open(root, silentLogger),
      downloads: new Semaphore(4), // registry.max_concurrent_downloads default
      log: silentLogger,
      allowDevices: true,
      unpackLayer: mode === 'thread' ? unpackLayerStream : undefined,
    };
    const t0 = performance.now();
    const { pings } = await withPinger(() => pullImage(deps, parseReference(image), image, undefined, new AbortController().signal));
    return { ms: performance.now() - t0, pings };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    image: { type: 'string', default: `${REGISTRY}/bench/debian-big:1` },
    rounds: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'worker,thread' },
  },
});
const modes = values.modes.split(',').filter(Boolean);
const rounds = Number(values.rounds);
const all = new Map<string, { ms: number[]; pings: number[] }>(modes.map((m) => [m, { ms: [], pings: [] }]));
const f = (n: number) => n.toFixed(1);
const la = () => loadavg().map((x) => x.toFixed(2)).join(' ');
for (let r = 0; r < rounds; r++) {
  for (const mode of r % 2 ? [...modes].reverse() : modes) {
    const before = la();
    const { ms, pings } = await pullOnce(values.image, mode);
    const s = summarize(pings)!;
    all.get(mode)!.ms.push(ms);
    all.get(mode)!.pings.push(...pings);
    console.log(`round ${r + 1} ${mode.padEnd(6)} pull ${f(ms)} ms; ping p50/p90/max ${f(s.median)}/${f(s.p90)}/${f(s.max)} ms (n=${s.n}); load ${before} -> ${la()}`);
  }
}
for (const [mode, a] of all) {
  const w = summarize(a.ms)!;
  const p = summarize(a.pings)!;
  console.log(`${mode.padEnd(6)} pull median ${f(w.median)} ms (max ${f(w.max)}); ping p50/p90/max ${f(p.median)}/${f(p.p90)}/${f(p.max)} ms over ${p.n} pings`);
}
