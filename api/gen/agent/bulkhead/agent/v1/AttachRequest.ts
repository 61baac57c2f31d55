// Original file: api/agent/agent.proto


export interface AttachRequest {
  'container_id'?: (string);
  'stdin'?: (boolean);
  'stdout'?: (boolean);
  'stderr'?: (boolean);
  'stdin_once'?: (boolean);
}

export interface AttachRequest__Output {
  'container_id': (string);
  'stdin': (boolean);
  'stdout': (boolean);
  'stderr': (boolean);
  'stdin_once': (boolean);
}
