// The request -> response kind table must cover the .proto both ways: every Request kind answered by a
// Response kind that exists, and every non-generic Response kind answering some request.
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { PROTO_SOURCE } from '../../api/gen/agent/proto-source.js';
import { RESPONSE_KIND, STREAMING_KINDS, replyOf, requestOf, responseBody } from './protocol.js';
import { RequestCodec, ResponseCodec } from './codec.js';

const root = protobuf.parse(PROTO_SOURCE, { keepCase: true }).root;
const oneofNames = (msg: string, oneof: string): string[] => root.lookupType(`bulkhead.agent.v1.${msg}`).oneofs[oneof]!.fieldsArray.map((f) => f.name);

describe('protocol RESPONSE_KIND', () => {
  it('maps every request kind of the .proto to a response kind of the .proto', () => {
    expect(Object.keys(RESPONSE_KIND).sort()).toEqual(oneofNames('Request', 'req').sort());
    const responses = new Set(oneofNames('Response', 'resp'));
    for (const r of Object.values(RESPONSE_KIND)) expect(responses.has(r), r).toBe(true);
    // Every specific response is used (empty is the generic one).
    expect(new Set(Object.values(RESPONSE_KIND))).toEqual(responses);
  });

  it('streaming kinds are request kinds', () => {
    for (const k of STREAMING_KINDS) expect(k in RESPONSE_KIND).toBe(true);
  });

  it('requestOf / replyOf / responseBody round-trip through the codec', () => {
    const req = RequestCodec.decode(RequestCodec.encode(requestOf('stats', { container_ids: ['a'] })));
    expect(req.req).toBe('stats');
    const res = ResponseCodec.decode(ResponseCodec.encode(replyOf('stats', { stats: [] })));
    expect(responseBody('stats', res)).toEqual({ body: { stats: [] } });
    expect(responseBody('ping', res)).toEqual({ wrong: 'stats response to a ping request (expected ping)' });
    const empty = ResponseCodec.decode(ResponseCodec.encode(replyOf('signal_exec', {})));
    expect(responseBody('signal_exec', empty)).toEqual({ body: {} });
  });
});
