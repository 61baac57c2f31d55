// Docker-style image references: parsing, normalisation and validation.
// `busybox` → docker.io/library/busybox:latest; `host:5000/a/b@sha256:..`; `name:tag@digest`.
// Grammar follows github.com/distribution/reference (the same rules containerd and the kubelet use).
import { invalidArgument } from '../errors/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME = 255;

export interface ImageReference {
  /** Registry host as written (with port), e.g. docker.io, 127.0.0.1:5000. */
  domain: string;
  /** Repository path within the registry, e.g. library/busybox. */
  path: string;
  tag?: string;
  digest?: string;
}

/** domain/path, e.g. docker.io/library/busybox. */
export function familiarName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical string: name:tag, name@digest, or name:tag@digest (tag defaults to latest when there is no digest). */
export function formatReference(ref: ImageReference): string {
  let s = familiarName(ref);
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

function isDomain(s: string): boolean {
  // host[:port] or [ipv6]:port
  if (s.startsWith('[')) return /^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$/.test(s);
  const [host, port, ...rest] = s.split(':');
  if (rest.length > 0 || host === undefined) return false;
  if (port !== undefined && !/^[0-9]+$/.test(port)) return false;
  return host.split('.').every((c) => DOMAIN_COMPONENT.test(c));
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

export function isSha256Digest(s: string): boolean {
  return SHA256_DIGEST.test(s);
}

/**
 * Parses and normalises a reference. Throws InvalidArgument for malformed input.
 * The tag defaults to `latest` only when neither tag nor digest is given.
 */
export function parseReference(input: string): ImageReference {
  const bad = (why: string) => invalidArgument(`invalid image reference "${input}": ${why}`);
  if (!input) throw bad('empty');
  if (input !== input.trim()) throw bad('surrounding whitespace');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw bad('malformed digest');
    if (digest.startsWith('sha256:') && !isSha256Digest(digest)) throw bad('sha256 digest must be 64 lowercase hex characters');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad('malformed tag');
  }
  if (!rest) throw bad('empty name');
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[') || first !== first.toLowerCase()) {
      if (!isDomain(first)) throw bad('malformed registry host');
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  if (/^[a-f0-9]{64}$/.test(path.replace(OFFICIAL_REPO_PREFIX, '')) && domain === DEFAULT_DOMAIN && !tag && !digest) {
    throw bad('a 64-hex name is an image id, not a repository');
  }
  for (const c of path.split('/')) if (!PATH_COMPONENT.test(c)) throw bad(`invalid path component "${c}"`);
  if (domain.length + 1 + path.length > MAX_NAME) throw bad('name longer than 255 characters');
  if (!tag && !digest) tag = DEFAULT_TAG;
  // name:tag@digest pulls by digest; the tag is dropped (containerd's ParseDockerRef does the same).
  if (digest) tag = undefined;
  const ref: ImageReference = { domain, path };
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

/** Normalised string form of a reference (throws InvalidArgument when malformed). */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}

/** Like normalizeReference but returns undefined instead of throwing. */
export function tryNormalizeReference(input: string): string | undefined {
  try {
    return normalizeReference(input);
  } catch {
    return undefined;
  }
}
