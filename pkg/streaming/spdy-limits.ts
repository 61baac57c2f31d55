// Bounds on what one SPDY peer can make us buffer, inflate or allocate. Stream clients are
// untrusted; the legitimate ones (Go's moby/spdystream under client-go, kubectl, crictl,
// critest) send header blocks of a few hundred bytes: streamtype, port, requestid and a
// handful of others, 3–6 headers, each value one short string.

/**
 * Inflated size of one header block. 256 KiB is ~500× the largest block kubelet's clients send
 * (≈ 300 bytes) and 3.5× the 70 KiB single value our own compressor test round-trips, yet a
 * 16 MiB SYN_STREAM (the frame-length maximum) of zeros would inflate to ~16 GiB without it.
 */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;

/**
 * Payload of one control frame. Header-bearing frames carry a compressed block, which is at
 * most a few bytes per 64 KiB larger than its inflated form (stored deflate blocks), so the
 * inflated cap plus 4 KiB for the frame fields and zlib framing; SETTINGS/PING/GOAWAY/RST/
 * WINDOW_UPDATE are 8–12 bytes, and a 16 MiB SETTINGS would otherwise be 2M entries.
 */
export const MAX_CONTROL_FRAME_PAYLOAD = MAX_HEADER_BLOCK_BYTES + 4 * 1024;

/** Name/value pairs in one header block: 64 is 10× what kubelet's protocols use. */
export const MAX_HEADER_PAIRS = 64;

/**
 * Values across one header block once NUL-separated lists are split. Without it a 256 KiB
 * value of NULs becomes 256K strings; 256 is 4 per permitted pair.
 */
export const MAX_HEADER_VALUES = 256;

/**
 * Streams open at once in one session. exec/attach use at most 5 (stdin, stdout, stderr, error,
 * resize); port-forward 2 per forwarded connection, each also a connection into the pod. 1000
 * is 500 concurrent forwarded connections through one kubectl port-forward; past it a new
 * stream is refused (RST_STREAM REFUSED_STREAM), the session carries on.
 */
export const MAX_CONCURRENT_STREAMS = 1000;
