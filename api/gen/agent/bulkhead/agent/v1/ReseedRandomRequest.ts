// Original file: api/agent/agent.proto


export interface ReseedRandomRequest {
  'entropy'?: (Buffer | Uint8Array | string);
}

export interface ReseedRandomRequest__Output {
  'entropy': (Buffer);
}
