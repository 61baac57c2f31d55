// Original file: api/agent/agent.proto


export interface RootfsSource {
  'block_serial'?: (string);
  'subpath'?: (string);
  'shared_path'?: (string);
}

export interface RootfsSource__Output {
  'block_serial': (string);
  'subpath': (string);
  'shared_path': (string);
}
