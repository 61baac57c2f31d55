// ExecSync over fakes (test/fakes): output and exit code, state checks, the deadline.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hangingExec, newTestPods, type TestPods } from '../../test/fakes/index.js';
import { toStatus } from '../grpc/errors.js';
import { status } from '@grpc/grpc-js';

const kind = (k: string) => expect.objectContaining({ kind: k });

let pods: TestPods;
let id: string;
beforeEach(async () => {
  pods = await newTestPods();
  id = await pods.runContainer(await pods.runPod());
});
afterEach(() => pods.cleanup());

describe('ExecSync', () => {
  it('returns the command output and exit code from the task runtime', async () => {
    pods.runc.tasks.execScript = async (_c, req) => {
      req.stdout.push(Buffer.from('out'));
      req.stderr.push(Buffer.from('err'));
      return { exitCode: 3, timedOut: false };
    };
    const res = await pods.cri.ExecSync({ container_id: id, cmd: ['sh', '-c', 'x'], timeout: '0' }, pods.ctx);
    expect(res).toMatchObject({ exit_code: 3 });
    expect(String(res.stdout)).toBe('out');
    expect(String(res.stderr)).toBe('err');
  });

  it('an empty id or cmd is invalid-argument; an unknown container not-found', async () => {
    await expect(pods.cri.ExecSync({ container_id: '', cmd: ['true'], timeout: '0' }, pods.ctx)).rejects.toThrow(kind('invalid-argument'));
    await expect(pods.cri.ExecSync({ container_id: id, cmd: [], timeout: '0' }, pods.ctx)).rejects.toThrow(kind('invalid-argument'));
    await expect(pods.cri.ExecSync({ container_id: 'nope', cmd: ['true'], timeout: '0' }, pods.ctx)).rejects.toThrow(kind('not-found'));
  });

  it('a container that is not running is failed-precondition', async () => {
    pods.runc.tasks.exit(id, 0);
    await expect(pods.cri.ExecSync({ container_id: id, cmd: ['true'], timeout: '0' }, pods.ctx)).rejects.toThrow(kind('failed-precondition'));
    expect(pods.journal.of('tasks.execSync')).toEqual([]);
  });

  it('a command past its timeout is killed and answers deadline-exceeded (DEADLINE_EXCEEDED at the edge)', async () => {
    pods.runc.tasks.execScript = hangingExec;
    const err = await pods.cri.ExecSync({ container_id: id, cmd: ['sleep', '60'], timeout: '1' }, pods.ctx).catch((e: unknown) => e);
    expect(err).toEqual(kind('deadline-exceeded'));
    expect(toStatus(err).code).toBe(status.DEADLINE_EXCEEDED);
  });

  it('a runtime that saw the deadline itself (timedOut) answers deadline-exceeded too', async () => {
    pods.runc.tasks.execScript = async () => ({ exitCode: -1, timedOut: true });
    await expect(pods.cri.ExecSync({ container_id: id, cmd: ['true'], timeout: '5' }, pods.ctx)).rejects.toThrow(kind('deadline-exceeded'));
  });
});
