// Original file: api/cri/api.proto


export interface GetEventsRequest {
}

export interface GetEventsRequest__Output {
}
