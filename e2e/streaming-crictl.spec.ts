// Streaming through the daemon with the real tools: crictl exec -it / attach / port-forward
// driven interactively in tmux (a real terminal: resize, exit, detach), big transfers through
// crictl, and critest v1.36.0's Streaming specs over SPDY and over WebSocket.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRICTL, crictlEndpoints, ownDaemon, type OwnDaemon } from './lib/own-daemon.js';
import { freeLocalPorts } from './lib/free-port.js';

const run = promisify(execFile);
const IMAGE = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';
const CRITEST = process.env.CRITEST ?? '/var/cache/bulkhead-tools/v1.36.0/critest';
const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Tmux {
  readonly name = `bhst-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  constructor(cmd: string, cols: number, rows: number) {
    execFileSync('tmux', ['new-session', '-d', '-s', this.name, '-x', String(cols), '-y', String(rows), cmd]);
  }
  send(...keys: string[]): void {
    execFileSync('tmux', ['send-keys', '-t', this.name, ...keys]);
  }
  screen(): string {
    try {
      return execFileSync('tmux', ['capture-pane', '-p', '-t', this.name]).toString();
    } catch {
      return '';
    }
  }
  resize(cols: number, rows: number): void {
    execFileSync('tmux', ['resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows)]);
  }
  alive(): boolean {
    try {
      execFileSync('tmux', ['has-session', '-t', this.name], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }
  kill(): void {
    try {
      execFileSync('tmux', ['kill-session', '-t', this.name], { stdio: 'ignore' });
    } catch {
      /* ended */
    }
  }
  async waitFor(text: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (typeof text === 'string' ? s.includes(text) : text.test(s)) return s;
      if (Date.now() > end) throw new Error(`tmux screen never showed ${String(text)}:\n${s}`);
      await sleep(100);
    }
  }
}

describe.skipIf(!isRoot)('streaming through crictl and critest', () => {
  let d: OwnDaemon;
  let podId: string;
  let shId: string;
  const sessions: Tmux[] = [];
  const crictlCmd = () => `${CRICTL} ${crictlEndpoints(d.sock).join(' ')}`;

  beforeAll(async () => {
    d = ownDaemon('streaming');
    await d.start();
    await d.crictl('pull', IMAGE);
    const pod = join(d.dir, 'pod.json');
    writeFileSync(pod, JSON.stringify({ metadata: { name: 'stream', namespace: 'e2e', uid: 'stream-uid', attempt: 0 }, log_directory: d.logDir, linux: {} }));
    podId = (await d.crictl('runp', pod)).trim();
    const mk = async (name: string, cfg: object): Promise<string> => {
      const f = join(d.dir, `${name}.json`);
      writeFileSync(f, JSON.stringify({ metadata: { name }, image: { image: IMAGE }, log_path: `${name}.log`, linux: {}, ...cfg }));
      const id = (await d.crictl('create', podId, f, pod)).trim();
      await d.crictl('start', id);
      return id;
    };
    shId = await mk('sh', { command: ['sh'], stdin: true, tty: true });
    await mk('web', { command: ['sh', '-c', 'mkdir -p /www && echo hello-from-pod > /www/index.html && head -c 104857600 /dev/urandom > /www/big && sha256sum /www/big > /www/big.sha && httpd -f -p 8080 -h /www'] });
  });

  afterAll(async () => {
    for (const s of sessions) s.kill();
    await d?.cleanup();
  });

  it('crictl exec -it: a real terminal, resize, exit', async () => {
    const t = new Tmux(`${crictlCmd()} exec -it ${shId} sh 2>/dev/null`, 132, 43);
    sessions.push(t);
    await t.waitFor('#');
    t.send('stty size; echo $((6*7))', 'Enter');
    await t.waitFor(/43 132\s+42/);
    t.resize(100, 30);
    await sleep(300);
    t.send('stty size', 'Enter');
    await t.waitFor('30 100');
    t.send('exit 0', 'Enter');
    for (let i = 0; i < 50 && t.alive(); i++) await sleep(100);
    expect(t.alive()).toBe(false);
  });

  it('crictl exec reports the exit code and keeps stdout and stderr apart', async () => {
    const r = await run(CRICTL, [...crictlEndpoints(d.sock), 'exec', shId, 'sh', '-c', 'echo out; echo err >&2; exit 7']).catch((e: { stdout: string; stderr: string; code: number }) => e);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err\n');
    expect(r.stderr).toContain('command terminated with exit code 7');
  });

  it('crictl exec streams 50 MB intact', async () => {
    await d.crictl('exec', shId, 'sh', '-c', 'head -c 52428800 /dev/urandom > /tmp/f50');
    const want = (await d.crictl('exec', shId, 'sha256sum', '/tmp/f50')).split(' ')[0];
    const got = await new Promise<{ sha: string; n: number }>((resolve, reject) => {
      const c = spawn(CRICTL, [...crictlEndpoints(d.sock), 'exec', shId, 'cat', '/tmp/f50'], { stdio: ['ignore', 'pipe', 'ignore'] });
      const h = createHash('sha256');
      let n = 0;
      c.stdout.on('data', (b: Buffer) => {
        h.update(b);
        n += b.length;
      });
      c.on('error', reject);
      c.on('close', () => resolve({ sha: h.digest('hex'), n }));
    });
    expect(got).toEqual({ sha: want, n: 52428800 });
  });

  it('crictl attach: talks to the container process; detaching leaves it running', async () => {
    const t = new Tmux(`${crictlCmd()} attach --tty --stdin ${shId} 2>/dev/null; echo ATTACH-ENDED; sleep 30`, 120, 40);
    sessions.push(t);
    await sleep(800);
    t.send('echo attached-$((1+1)); stty size', 'Enter');
    await t.waitFor(/attached-2\s+40 120/);
    t.send('C-p', 'C-q'); // crictl's detach keys
    await t.waitFor('ATTACH-ENDED');
    expect(await d.crictl('ps', '-q', '--state', 'Running')).toContain(shId);
  });

  it('crictl port-forward: HTTP and 100 MB intact, concurrent connections', async () => {
    const local = await freeLocalPorts(1);
    // crictl port-forward ends when a forwarded connection is refused inside the pod (the server
    // there not up yet on a loaded machine): start it again until the page is served.
    const forward = async () => {
      const p = spawn(CRICTL, [...crictlEndpoints(d.sock), 'port-forward', podId, `${local}:8080`], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise((r) => {
        p.stdout.once('data', r);
        p.once('exit', r);
      });
      return p;
    };
    let pf = await forward();
    try {
      const get = (path: string) =>
        new Promise<{ body: Buffer; sha: string }>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port: local, path }, (res) => {
              const h = createHash('sha256');
              const parts: Buffer[] = [];
              res.on('data', (b: Buffer) => {
                h.update(b);
                if (path !== '/big') parts.push(b);
              });
              res.on('end', () => resolve({ body: Buffer.concat(parts), sha: h.digest('hex') }));
            })
            .on('error', reject);
        });
      for (let i = 0; i < 150 && !(await get('/big.sha').then((r) => r.body.length > 0, () => false)); i++) {
        await sleep(200);
        if (pf.exitCode !== null || pf.signalCode !== null) pf = await forward();
      }
      const [big, sums, ...pages] = await Promise.all([get('/big'), get('/big.sha'), get('/index.html'), get('/index.html'), get('/index.html')]);
      expect(big.sha).toBe(sums.body.toString().split(' ')[0]);
      for (const p of pages) expect(p.body.toString()).toBe('hello-from-pod\n');
    } finally {
      pf.kill('SIGTERM');
    }
  });

  it.each([
    ['SPDY', [] as string[]],
    ['WebSocket', ['-websocket-exec', '-websocket-attach', '-websocket-portforward']],
  ])('critest Streaming specs pass over %s', async (_n, flags) => {
    const r = await run(CRITEST, [...crictlEndpoints(d.sock), '--image-endpoint', `unix://${d.sock}`, '--ginkgo.focus', 'Streaming', '--ginkgo.no-color', ...flags], {
      cwd: d.dir,
      maxBuffer: 64 << 20,
    }).catch((e: { stdout: string }) => e);
    expect(r.stdout).toMatch(/SUCCESS! -- 5 Passed \| 0 Failed/);
  });
});
