// The container RPCs translate the protocol's defaults (signal 0 = the default stop signal) and the
// manager's view into the replies of their kinds.
import { describe, expect, it } from 'vitest';
import type { AgentContainers } from './containers.js';
import type { StreamContext } from './rpc.js';
import { containerRpcs } from './rpc-containers.js';

const ctx = {} as StreamContext;

describe('containerRpcs', () => {
  it('signal 0 means SIGTERM; a given signal is passed on with all', async () => {
    const sent: [string, number, boolean][] = [];
    const rpcs = containerRpcs({ signal: async (id: string, sig: number, all: boolean) => void sent.push([id, sig, all]) } as unknown as AgentContainers);
    await rpcs.signal_container({ container_id: 'a', signal: 0, all: false }, ctx);
    await rpcs.signal_container({ container_id: 'a', signal: 9, all: true }, ctx);
    expect(sent).toEqual([
      ['a', 15, false],
      ['a', 9, true],
    ]);
  });

  it('lists containers with their exit status (null while running) and pid', async () => {
    const rpcs = containerRpcs({
      list: () => [
        { id: 'a', state: 'running', pid: 7 },
        { id: 'b', state: 'exited', pid: 0, exit: { exit_code: 1, reason: 'Error', finished_at_ns: '5', signal: 0 } },
      ],
    } as unknown as AgentContainers);
    expect(await rpcs.list_containers({}, ctx)).toEqual({
      containers: [
        { container_id: 'a', state: 'running', exit: null, pid: 7 },
        { container_id: 'b', state: 'exited', exit: { exit_code: 1, reason: 'Error', finished_at_ns: '5', signal: 0 }, pid: 0 },
      ],
    });
  });

  it('start answers the monitor pid', async () => {
    const rpcs = containerRpcs({ start: async () => 42 } as unknown as AgentContainers);
    expect(await rpcs.start_container({ container_id: 'a' }, ctx)).toEqual({ pid: 42 });
  });
});
