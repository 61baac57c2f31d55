// Restart recovery: 5 pods running, SIGKILL the daemon, restart it: the same pods and containers
// are listed Running (conmon kept them alive), a container that exited while the daemon was down
// shows its real exit code, and everything stops and is removed cleanly afterwards.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, mountsUnder, type OwnDaemon } from './lib/own-daemon.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('daemon restart recovery', () => {
  let d: OwnDaemon;
  beforeAll(async () => {
    d = ownDaemon('restart');
    await d.start();
    await d.crictl('pull', IMAGE);
  });
  afterAll(async () => {
    await d?.cleanup();
  });

  it('reattaches to 5 running pods after SIGKILL and reports real exit codes', async () => {
    const pods: string[] = [];
    const ctrs: string[] = [];
    for (let i = 0; i < 5; i++) {
      const pod = join(d.dir, `pod${i}.json`);
      const ctr = join(d.dir, `ctr${i}.json`);
      writeFileSync(pod, JSON.stringify({ metadata: { name: `r${i}`, namespace: 'e2e', uid: `r${i}-uid`, attempt: 0 }, log_directory: d.logDir, linux: { security_context: { namespace_options: { pid: i % 2 } } } }));
      // Container 0 exits with 7 once a marker file appears (created while the daemon is down).
      const cmd = i === 0 ? 'while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 7' : 'while true; do sleep 1; done';
      writeFileSync(ctr, JSON.stringify({ metadata: { name: 'c' }, image: { image: IMAGE }, command: ['sh', '-c', cmd], log_path: `c${i}.log`, linux: { security_context: { namespace_options: { pid: i % 2 } } } }));
      const p = (await d.crictl('runp', pod)).trim();
      const c = (await d.crictl('create', p, ctr, pod)).trim();
      await d.crictl('start', c);
      pods.push(p);
      ctrs.push(c);
    }
    await d.kill('SIGKILL');
    const info = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(d.root, 'containers', ctrs[0]!, 'container.json'), 'utf8'))) as { pid: number };
    writeFileSync(`/proc/${info.pid}/root/tmp/go`, '');
    await new Promise((r) => setTimeout(r, 500));
    await d.start();

    const listed = JSON.parse(await d.crictl('pods', '-o', 'json')) as { items: { id: string; state: string }[] };
    expect(listed.items.map((p) => p.id).sort()).toEqual([...pods].sort());
    expect(listed.items.every((p) => p.state === 'SANDBOX_READY')).toBe(true);
    const cs = JSON.parse(await d.crictl('ps', '-a', '-o', 'json')) as { containers: { id: string; state: string }[] };
    for (const [i, id] of ctrs.entries()) {
      const c = cs.containers.find((x) => x.id === id);
      expect(c?.state).toBe(i === 0 ? 'CONTAINER_EXITED' : 'CONTAINER_RUNNING');
    }
    const st = JSON.parse(await d.crictl('inspect', '-o', 'json', ctrs[0]!)) as { status: { exitCode: number; reason: string } };
    expect(st.status.exitCode).toBe(7);
    expect(st.status.reason).toBe('Error');
    // still manageable: exec into a recovered container
    expect(await d.crictl('exec', '-s', ctrs[1]!, 'echo', 'alive')).toContain('alive');

    for (const p of pods) await d.crictl('stopp', p);
    for (const p of pods) await d.crictl('rmp', p);
    expect(JSON.parse(await d.crictl('pods', '-o', 'json')).items).toEqual([]);
    expect(mountsUnder(d.root, d.state)).toEqual([]);
  });

  it('a crash in the middle of RunPodSandbox/CreateContainer leaves nothing behind', async () => {
    const pods = Array.from({ length: 6 }, (_, i) => {
      const f = join(d.dir, `crash${i}.json`);
      writeFileSync(f, JSON.stringify({ metadata: { name: `crash${i}`, namespace: 'e2e', uid: `crash${i}-uid`, attempt: 0 }, log_directory: d.logDir, linux: { security_context: { namespace_options: { pid: i % 2 } } } }));
      return f;
    });
    const attempts = pods.map((f) => d.crictl('runp', f).catch(() => undefined));
    await new Promise((r) => setTimeout(r, 60 + Math.random() * 60));
    await d.kill('SIGKILL');
    await Promise.all(attempts);
    await d.start();
    const listed = JSON.parse(await d.crictl('pods', '-o', 'json')) as { items: { id: string }[] };
    for (const p of listed.items) await d.crictl('rmp', '-f', p.id);
    expect(mountsUnder(d.root, d.state)).toEqual([]);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(d.root, 'pods'))).toEqual([]);
    expect(readdirSync(join(d.state, 'pods'))).toEqual([]);
  });
});
