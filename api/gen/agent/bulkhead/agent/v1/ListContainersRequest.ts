// Original file: api/agent/agent.proto


export interface ListContainersRequest {
}

export interface ListContainersRequest__Output {
}
