// Original file: api/agent/agent.proto


export interface ExecProcessRequest {
  'container_id'?: (string);
  'args'?: (string)[];
  'env'?: (string)[];
  'cwd'?: (string);
  'tty'?: (boolean);
  'stdin'?: (boolean);
  'timeout_seconds'?: (number);
}

export interface ExecProcessRequest__Output {
  'container_id': (string);
  'args': (string)[];
  'env': (string)[];
  'cwd': (string);
  'tty': (boolean);
  'stdin': (boolean);
  'timeout_seconds': (number);
}
