// Protobuf (protobufjs) encoding of the agent protocol messages. The .proto text is embedded at build
// time (npm run gen:agent), so the bundled guest agent needs no files; the object shapes match the
// proto-loader-gen-types output (keepCase, int64 as decimal strings, oneof discriminators, defaults).
import protobuf from 'protobufjs';
import { PROTO_SOURCE } from '../../api/gen/agent/proto-source.js';
import type { Request, Request__Output } from '../../api/gen/agent/bulkhead/agent/v1/Request.js';
import type { Response, Response__Output } from '../../api/gen/agent/bulkhead/agent/v1/Response.js';
import type { Event, Event__Output } from '../../api/gen/agent/bulkhead/agent/v1/Event.js';
import type { ExitStatus, ExitStatus__Output } from '../../api/gen/agent/bulkhead/agent/v1/ExitStatus.js';

export type { Request, Request__Output, Response, Response__Output, Event, Event__Output, ExitStatus, ExitStatus__Output };

const root = protobuf.parse(PROTO_SOURCE, { keepCase: true }).root;
const PKG = 'bulkhead.agent.v1.';
const toObjectOptions: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true };

function codec<In extends object, Out>(name: string) {
  const type = root.lookupType(PKG + name);
  return {
    encode(msg: In): Buffer {
      return Buffer.from(type.encode(type.fromObject(msg as Record<string, unknown>)).finish());
    },
    decode(bytes: Uint8Array): Out {
      return type.toObject(type.decode(bytes), toObjectOptions) as Out;
    },
  };
}

export const RequestCodec = codec<Request, Request__Output>('Request');
export const ResponseCodec = codec<Response, Response__Output>('Response');
export const EventCodec = codec<Event, Event__Output>('Event');
export const ExitStatusCodec = codec<ExitStatus, ExitStatus__Output>('ExitStatus');

export { Code, type RequestKind, type ResponseKind } from './protocol.js';

/** An agent call failed: code is the agent's Response.code (a protocol Code) or the host's own verdict. */
export class AgentError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
