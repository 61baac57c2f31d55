// node dist/bench/tools/spawn-block.js [RSS_MIB...]: how long one spawn blocks the event loop,
// child_process.spawn (libuv: fork) against pkg/sys/spawn.ts (posix_spawn: vfork semantics), with
// the process grown to each resident size (default 80, the idle daemon, and 400). Spawns /bin/true
// with stdout/stderr piped, as the daemon spawns runc and CNI plugins; 40 of each, medians.
import { spawn } from 'node:child_process';
import { spawnProcess } from '../../pkg/sys/spawn.js';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const ballast: Buffer[] = [];
const ROUNDS = 40;

function grow(mib: number): void {
  while (process.memoryUsage().rss < mib * 2 ** 20) ballast.push(Buffer.alloc(4 << 20, 1)); // touched pages
}

async function time(start: () => { on(e: 'close', f: () => void): unknown }): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    const c = start();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await new Promise<void>((res) => c.on('close', res));
  }
  return ms.sort((a, b) => a - b);
}

const q = (xs: number[], p: number): string => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(2);
console.log('rss_mib  fork_p50_ms  fork_p90_ms  posix_spawn_p50_ms  posix_spawn_p90_ms');
for (const mib of sizes.length ? sizes : [80, 400]) {
  grow(mib);
  const fork = await time(() => spawn('/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const vfork = await time(() => spawnProcess('/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const rss = (process.memoryUsage().rss / 2 ** 20).toFixed(0);
  console.log(`${rss.padStart(7)}  ${q(fork, 0.5).padStart(11)}  ${q(fork, 0.9).padStart(11)}  ${q(vfork, 0.5).padStart(18)}  ${q(vfork, 0.9).padStart(18)}`);
}
