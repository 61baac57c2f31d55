// Original file: api/agent/agent.proto


export interface WarmUpRequest {
}

export interface WarmUpRequest__Output {
}
