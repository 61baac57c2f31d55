// The session dispatches by request kind to its handler table and answers with the reply kind the
// protocol maps that kind to; handler errors keep their code; unknown or bodiless requests are refused.
import { describe, expect, it } from 'vitest';
import { FrameKind, encodeFrame, type Frame } from '../vmchannel/frame.js';
import { AgentError, Code, RequestCodec, ResponseCodec, type Response__Output } from '../vmchannel/codec.js';
import { RESPONSE_KIND, type RequestKind } from '../vmchannel/protocol.js';
import type { SerialPort } from './port.js';
import { FakePort, until } from './testdata/fake-port.js';
import type { HandlerTable } from './rpc.js';
import { AgentSession } from './session.js';

/** A table whose every handler answers an empty-ish reply of its kind (stats: one entry, to tell). */
function fakeTable(): Omit<HandlerTable, 'hello'> {
  const t: Partial<Record<RequestKind, unknown>> = {};
  for (const k of Object.keys(RESPONSE_KIND) as RequestKind[]) if (k !== 'hello') t[k] = () => ({});
  t.stats = (r: { container_ids: string[] }) => ({ stats: r.container_ids.map((id) => ({ container_id: id })) });
  t.delete_container = () => {
    throw new AgentError(Code.NotFound, 'no such container');
  };
  t.start_container = () => Promise.reject(new Error('crun failed'));
  return t as Omit<HandlerTable, 'hello'>;
}

function session(): { port: FakePort; served: string[]; ask(stream: number, payload: Buffer): Promise<Response__Output> } {
  const port = new FakePort();
  const served: string[] = [];
  new AgentSession(port as unknown as SerialPort, () => undefined, fakeTable(), (_s, req) => served.push(String(req.req)));
  const ask = async (stream: number, payload: Buffer): Promise<Response__Output> => {
    port.emit('data', encodeFrame(stream, FrameKind.Request, payload));
    await until(() => port.frames.some((f) => f.stream === stream && f.kind === FrameKind.Response));
    return ResponseCodec.decode(port.frames.find((f) => f.stream === stream && f.kind === FrameKind.Response)!.payload);
  };
  return { port, served, ask };
}

describe('AgentSession dispatch', () => {
  it('answers Hello itself, echoing the nonce and announcing its window', async () => {
    const s = session();
    const r = await s.ask(1, RequestCodec.encode({ hello: { nonce: 'abc', window: 1 << 18 } }));
    expect(r.resp).toBe('hello');
    expect(r.hello).toMatchObject({ nonce: 'abc', window: 256 << 10 });
    // The host asks for newer request fields only when the agent names them.
    expect(r.hello?.features).toEqual(['ephemeral_volumes', 'reseed_sets_time', 'warm_up']);
  });

  it('answers each kind with the reply kind the protocol maps it to', async () => {
    const s = session();
    const stats = await s.ask(2, RequestCodec.encode({ stats: { container_ids: ['a', 'b'] } }));
    expect(stats.resp).toBe('stats');
    expect(stats.stats?.stats.map((x) => x.container_id)).toEqual(['a', 'b']);
    const sig = await s.ask(3, RequestCodec.encode({ signal_container: { container_id: 'a', signal: 15 } }));
    expect(sig.resp).toBe('empty');
    expect(s.served).toEqual(['stats', 'signal_container']);
  });

  it("keeps a handler's AgentError code; any other failure is Internal", async () => {
    const s = session();
    expect(await s.ask(4, RequestCodec.encode({ delete_container: { container_id: 'x' } }))).toMatchObject({ error: 'no such container', code: Code.NotFound });
    expect(await s.ask(5, RequestCodec.encode({ start_container: { container_id: 'x' } }))).toMatchObject({ error: 'crun failed', code: Code.Internal });
    expect(s.served).toEqual([]);
  });

  it('refuses a request of no kind it knows (a newer host) and an undecodable one', async () => {
    const s = session();
    // Field 99 of Request: no kind in this agent's protocol.
    expect(await s.ask(6, Buffer.from([0x9a, 0x06, 0x00]))).toMatchObject({ code: Code.InvalidArgument, error: 'unknown request undefined' });
    expect((await s.ask(7, Buffer.from([0xff, 0xff]))).code).toBe(Code.InvalidArgument);
  });
});
