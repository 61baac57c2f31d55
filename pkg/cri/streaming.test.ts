import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { streamingHandlers } from './streaming.js';
import { notFound } from '../errors/errors.js';
import type { StreamRequest } from '../streaming/tokens.js';
import type { CallContext } from '../grpc/handlers.js';
import type * as cri from '../api/cri-types.js';

const ctx: CallContext = { log: pino({ level: 'silent' }), signal: new AbortController().signal };
const registered: StreamRequest[] = [];
const h = streamingHandlers({
  registry: {
    register: (r) => {
      registered.push(r);
      return `http://127.0.0.1:1/${r.kind}/tok`;
    },
  },
  lookup: {
    container: (id) => {
      if (id.startsWith('run')) return { id: 'running-full-id', podId: 'p', state: 'CONTAINER_RUNNING' };
      if (id.startsWith('exit')) return { id: 'exited-full-id', podId: 'p', state: 'CONTAINER_EXITED' };
      throw notFound(`container ${id} not found`);
    },
    pod: (id) => {
      if (id === 'ready') return { id: 'ready-full', state: 'SANDBOX_READY' };
      if (id === 'down') return { id: 'down-full', state: 'SANDBOX_NOTREADY' };
      throw notFound(`pod ${id} not found`);
    },
  },
});

const execReq = (o: Partial<cri.ExecRequest__Output>): cri.ExecRequest__Output => ({ container_id: 'run', cmd: ['sh'], tty: false, stdin: false, stdout: true, stderr: true, ...o });
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { kind?: string }) => e.kind);

describe('Exec/Attach/PortForward validation', () => {
  it('registers a valid exec with the full container id and returns the URL', async () => {
    expect(await h.Exec(execReq({ container_id: 'run1' }), ctx)).toEqual({ url: 'http://127.0.0.1:1/exec/tok' });
    expect(registered.at(-1)).toEqual({ kind: 'exec', containerId: 'running-full-id', cmd: ['sh'], tty: false, stdin: false, stdout: true, stderr: true });
  });
  it('rejects bad requests with the right codes', async () => {
    expect(await code(h.Exec(execReq({ cmd: [] }), ctx))).toBe('invalid-argument');
    expect(await code(h.Exec(execReq({ stdout: false, stderr: false }), ctx))).toBe('invalid-argument');
    expect(await code(h.Exec(execReq({ tty: true, stderr: true }), ctx))).toBe('invalid-argument');
    expect(await code(h.Exec(execReq({ container_id: '' }), ctx))).toBe('invalid-argument');
    expect(await code(h.Exec(execReq({ container_id: 'nope' }), ctx))).toBe('not-found');
    expect(await code(h.Exec(execReq({ container_id: 'exit' }), ctx))).toBe('failed-precondition');
    expect(await code(h.Attach({ container_id: 'exit', tty: false, stdin: true, stdout: true, stderr: false }, ctx))).toBe('failed-precondition');
    expect(await code(h.Attach({ container_id: 'run', tty: false, stdin: false, stdout: false, stderr: false }, ctx))).toBe('invalid-argument');
  });
  it('port-forward needs a ready pod and valid ports', async () => {
    expect(await h.PortForward({ pod_sandbox_id: 'ready', port: [80, 8080] }, ctx)).toEqual({ url: 'http://127.0.0.1:1/portforward/tok' });
    expect(registered.at(-1)).toEqual({ kind: 'portforward', podSandboxId: 'ready-full', ports: [80, 8080] });
    expect(await code(h.PortForward({ pod_sandbox_id: '', port: [] }, ctx))).toBe('invalid-argument');
    expect(await code(h.PortForward({ pod_sandbox_id: 'ready', port: [70000] }, ctx))).toBe('invalid-argument');
    expect(await code(h.PortForward({ pod_sandbox_id: 'gone', port: [] }, ctx))).toBe('not-found');
    expect(await code(h.PortForward({ pod_sandbox_id: 'down', port: [] }, ctx))).toBe('failed-precondition');
  });
});
