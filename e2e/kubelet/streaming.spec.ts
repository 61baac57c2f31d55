// Kubelet bench: kubectl logs, exec (with and without a TTY) and port-forward through the API
// server -> kubelet -> CRI streaming path. Handler: default (runc) unless the title says otherwise.
import { PassThrough } from 'node:stream';
import { Exec } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NGINX,
  connect,
  createNamespace,
  createPod,
  deleteNamespace,
  enabled,
  ensureRuntimeClasses,
  kubectl,
  kubectlPath,
  kubeconfigPath,
  kubectlSpawn,
  podSpec,
  running,
  runtimeName,
  shContainer,
  waitFor,
  waitForPod,
  type Cluster,
} from './lib/cluster.js';
import { execFile } from 'node:child_process';

describe.skipIf(!enabled)(`kubelet + ${runtimeName}: logs, exec, port-forward`, () => {
  let c: Cluster;
  let ns: string;

  beforeAll(async () => {
    c = connect();
    await ensureRuntimeClasses();
    ns = await createNamespace(c, 'kubelet-stream');
    await createPod(
      c,
      ns,
      podSpec('talker', [shContainer('main', 'echo hello-stdout; echo hello-stderr >&2; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done')], {
        runtimeClassName: 'runc',
      }),
    );
    await createPod(c, ns, podSpec('web', [{ name: 'nginx', image: NGINX, imagePullPolicy: 'IfNotPresent', ports: [{ containerPort: 80 }] }]));
    await waitForPod(c, ns, 'talker', 'Running', running);
    await waitForPod(c, ns, 'web', 'Running', running);
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(c, ns);
  });

  it('[handler runc] kubectl logs returns stdout and stderr lines, --tail and --timestamps work', async () => {
    const out = await waitFor('two ticks in the log', 30_000, async () => {
      const s = await kubectl(['-n', ns, 'logs', 'talker']);
      return s.includes('tick 2') ? s : undefined;
    });
    expect(out).toContain('hello-stdout');
    expect(out).toContain('hello-stderr');
    const tail = await kubectl(['-n', ns, 'logs', 'talker', '--tail=1']);
    expect(tail.trim().split('\n')).toHaveLength(1);
    const ts = await kubectl(['-n', ns, 'logs', 'talker', '--timestamps', '--tail=1']);
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z tick \d+/);
  });

  it('[handler runc] kubectl exec without a TTY: stdout, exit code, stdin', async () => {
    expect(await kubectl(['-n', ns, 'exec', 'talker', '--', 'sh', '-c', 'echo in-pod $((6*7)); cat /proc/1/cmdline | tr "\\0" " "'])).toMatch(
      /in-pod 42\nsh -c echo hello-stdout/,
    );
    const err = await kubectl(['-n', ns, 'exec', 'talker', '--', 'sh', '-c', 'exit 3']).catch((e: { code?: number }) => e);
    expect((err as { code?: number }).code).toBe(3);
    const piped = await new Promise<string>((resolve, reject) => {
      const child = execFile(kubectlPath, ['--kubeconfig', kubeconfigPath, '-n', ns, 'exec', '-i', 'talker', '--', 'sh', '-c', 'tr a-z A-Z'], { timeout: 60_000 }, (e, stdout) =>
        e ? reject(e) : resolve(stdout),
      );
      child.stdin?.end('from stdin\n');
    });
    expect(piped).toBe('FROM STDIN\n');
  });

  it('[handler runc] exec with a TTY (client-node websocket exec, tty=true) sees a terminal', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const status = await new Promise<string>((resolve, reject) => {
      new Exec(c.kc)
        .exec(ns, 'talker', 'main', ['sh', '-c', 'tty; test -t 0 && echo stdin-is-tty'], out, out, null, true, (s) => resolve(s.status ?? ''))
        .catch(reject);
    });
    expect(status).toBe('Success');
    expect(text).toMatch(/\/dev\/pts\/\d+/);
    expect(text).toContain('stdin-is-tty');
    expect(text).toContain('\r\n'); // the pty's line discipline, proof it was a terminal
  });

  it('[handler runc] kubectl exec -it (under a pseudo-terminal via script(1)) gets a TTY', async () => {
    const cmd = `${kubectlPath} --kubeconfig ${kubeconfigPath} -n ${ns} exec -it talker -- sh -c 'tty; test -t 0 && echo stdin-is-tty'`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile('script', ['-qec', cmd, '/dev/null'], { timeout: 60_000 }, (e, stdout) => (e ? reject(e) : resolve(stdout)));
    });
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toContain('stdin-is-tty');
  });

  it('[handler default (runc)] kubectl port-forward reaches the pod port', async () => {
    const pf = kubectlSpawn(['-n', ns, 'port-forward', 'pod/web', ':80']);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let buf = '';
        const timer = setTimeout(() => reject(new Error(`port-forward did not start: ${buf}`)), 30_000);
        pf.stdout?.on('data', (d: Buffer) => {
          buf += d.toString();
          const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 80/.exec(buf);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        pf.stderr?.on('data', (d: Buffer) => (buf += d.toString()));
        pf.on('exit', (code) => reject(new Error(`port-forward exited ${code}: ${buf}`)));
      });
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        expect(res.status).toBe(200);
        expect(await res.text()).toContain('Welcome to nginx');
      }
    } finally {
      pf.kill('SIGTERM');
    }
  });

  it('[handler runc] pods reach each other by pod IP on the CNI bridge', async () => {
    const web = await waitForPod(c, ns, 'web', 'Running', running);
    // busybox nc, not wget: the image's dynamic busybox wget needs resolver libs it lacks.
    const out = await kubectl(['-n', ns, 'exec', 'talker', '--', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${web.status?.podIP} 80`]);
    expect(out).toContain('Welcome to nginx');
  });
});
