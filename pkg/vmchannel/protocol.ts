// The host<->guest agent protocol as both ends see it: the constants of the channel (frame kinds, sizes,
// windows, stdio fds, error codes, guest paths) and which response answers which request, so that the
// host's AgentClient.call('stats', …) is typed StatsResponse and the agent's handler table must return
// it. The wire format itself is api/agent/agent.proto; this module adds what the .proto cannot say.
import type { Request, Request__Output, Response, Response__Output } from './codec.js';

// ---- framing (pkg/vmchannel/frame.ts) --------------------------------------------------------------

/** Frame kinds: the u8 after length and stream id. */
export const FrameKind = {
  Request: 1,
  Response: 2,
  Data: 3,
  Close: 4,
  Window: 5,
  Event: 6,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** u32 length + u32 stream + u8 kind. */
export const HEADER_BYTES = 9;
/**
 * Larger frames are a protocol error (or garbage after a reconnect): the decoder refuses them. 8 MiB is
 * what the agent accepts from the (trusted) host, whose largest frame is a CreateContainer request
 * carrying the whole OCI spec JSON (env, mounts, annotations: tens of KiB, rarely more).
 */
export const MAX_PAYLOAD = 8 << 20;
/** Stdio/log DATA chunks are cut to this size so one stream cannot hog the channel for long. */
export const DATA_CHUNK = 64 << 10;
/**
 * Largest frame the host accepts from the (untrusted) guest, i.e. the most the host buffers for one
 * frame in progress. The guest only sends DATA (at most DATA_CHUNK + 1 = 65,537 bytes), WINDOW (4),
 * CLOSE (an ExitStatus, < 100), EVENT (< 300) and RESPONSE frames, the largest of which is
 * ListContainers: about 150 bytes per container, so 1 MiB still fits ~7,000 containers in one pod.
 */
export const MAX_GUEST_PAYLOAD = 1 << 20;
/** Stream 0 carries unsolicited agent events. */
export const EVENT_STREAM = 0;

/** Default receive window per stream (bytes of DATA payload; pkg/vmchannel/flow.ts). */
export const DEFAULT_WINDOW = 256 << 10;

/** The u8 fd of a DATA payload: stdin flows host->guest only, stdout/stderr (and log bytes, 1) guest->host. */
export const Fd = { Stdin: 0, Stdout: 1, Stderr: 2 } as const;

// ---- errors -------------------------------------------------------------------------------------

/**
 * Response.code: gRPC status codes, so the host can pass the agent's verdict on to the CRI caller
 * (pkg/runtime/vm/agent-errors.ts) without a second table.
 */
export const Code = { OK: 0, InvalidArgument: 3, NotFound: 5, AlreadyExists: 6, FailedPrecondition: 9, Internal: 13, Unavailable: 14 } as const;
export type Code = (typeof Code)[keyof typeof Code];

// ---- guest paths and markers both ends name ------------------------------------------------------

/** Where the agent mounts the pod's virtio-fs share (SetupSandbox shared_fs_tag). */
export const GUEST_SHARE_DIR = '/run/bulkhead/share';
/**
 * What an agent says it understands in HelloResponse.features. A VM keeps the agent it booted with
 * while the daemon is upgraded and reattaches: the host uses a newer request field only when the
 * agent named it (a guest claiming one it lacks only hurts its own pod).
 */
export const AgentFeature = {
  /** CreateContainer.ephemeral_volumes (guest-RAM emptyDirs, GUEST_EPHEMERAL_DIR). */
  EphemeralVolumes: 'ephemeral_volumes',
  /** ReseedRandomRequest.set_time_unix_ns: a restored clone's two fix-ups in one guest spawn. */
  ReseedSetsTime: 'reseed_sets_time',
  /** The warm_up request (a pooled VM's throw-away container). */
  WarmUp: 'warm_up',
} as const;
export type AgentFeature = (typeof AgentFeature)[keyof typeof AgentFeature];

/**
 * Where the agent mounts a pod's guest-RAM volumes (CreateContainer ephemeral_volumes), one tmpfs per
 * volume name at <dir>/<name>; container specs bind that path (or one below it, for a subPath).
 */
export const GUEST_EPHEMERAL_DIR = '/run/bulkhead/ephemeral';
/**
 * A guest-RAM volume's name: one path component, so <dir>/<name> stays under GUEST_EPHEMERAL_DIR
 * (kubelet's volume names are DNS labels, a subset).
 */
export const EPHEMERAL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
/** Pid-namespace path in a container spec meaning "the pod's shared PID namespace" (made by the agent). */
export const GUEST_POD_PIDNS = '/run/bulkhead/pod-pidns';
/** Spec annotation asking the agent to give a privileged container the guest's device nodes. */
export const GUEST_DEVICES_ANNOTATION = 'io.bulkhead.vm.guest-devices';

// ---- request kind -> response kind ----------------------------------------------------------------

/** Request kinds: the names of the Request oneof. */
export type RequestKind = NonNullable<Request__Output['req']>;
/** Response kinds: the names of the Response oneof. */
export type ResponseKind = NonNullable<Response__Output['resp']>;

/**
 * The response kind that answers each request kind. A successful Response carrying any other kind (or
 * none) is a protocol violation the host's client rejects once, so no call site checks it again.
 */
export const RESPONSE_KIND = {
  hello: 'hello',
  ping: 'ping',
  setup_sandbox: 'empty',
  create_container: 'empty',
  start_container: 'start_container',
  signal_container: 'empty',
  wait_container: 'wait_container',
  delete_container: 'empty',
  exec_process: 'exec_process',
  resize: 'empty',
  stats: 'stats',
  update_resources: 'empty',
  follow_logs: 'empty',
  shutdown: 'empty',
  list_containers: 'list_containers',
  port_forward: 'empty',
  signal_exec: 'empty',
  attach: 'empty',
  reseed_random: 'empty',
  set_guest_time: 'empty',
  warm_up: 'empty',
} as const satisfies Record<RequestKind, ResponseKind>;

/** Requests whose stream stays open for DATA and ends with CLOSE (AgentClient.openStream). */
export const STREAMING_KINDS = ['exec_process', 'follow_logs', 'port_forward', 'attach'] as const satisfies readonly RequestKind[];
export type StreamingKind = (typeof STREAMING_KINDS)[number];

/** What the host sends for kind K. */
export type RequestOf<K extends RequestKind> = NonNullable<Request[K]>;
/** What the agent decodes for kind K. */
export type DecodedRequestOf<K extends RequestKind> = NonNullable<Request__Output[K]>;
/** What the host gets back for kind K (decoded, defaults filled in). */
export type ResponseOf<K extends RequestKind> = NonNullable<Response__Output[(typeof RESPONSE_KIND)[K]]>;
/** What the agent answers for kind K. */
export type ReplyOf<K extends RequestKind> = NonNullable<Response[(typeof RESPONSE_KIND)[K]]>;

/** The Request message of kind K (the oneof member set). */
export function requestOf<K extends RequestKind>(kind: K, body: RequestOf<K>): Request {
  return { [kind]: body } as Request;
}

/** The successful Response message answering kind K. */
export function replyOf<K extends RequestKind>(kind: K, body: ReplyOf<K>): Response {
  return { [RESPONSE_KIND[kind]]: body } as Response;
}

/**
 * The body of a successful response to kind K, or why it is not one (the caller decides whose fault
 * that is: for the host, the guest's).
 */
export function responseBody<K extends RequestKind>(kind: K, r: Response__Output): { body: ResponseOf<K> } | { wrong: string } {
  const want = RESPONSE_KIND[kind];
  const body = r[want];
  if (r.resp !== want || body === null || body === undefined) return { wrong: `${r.resp ?? 'no'} response to a ${kind} request (expected ${want})` };
  return { body: body as ResponseOf<K> };
}
