// The `bulkhead images import|tag` side of the daemon's image admin routes
// (pkg/daemon/image-admin.ts), over the root-only debug socket.
import { request } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { debugRequest, type DebugReply } from './debug-client.js';

export interface AdminImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
}

export interface AdminResult {
  images: AdminImage[];
}

export class AdminError extends Error {
  override readonly name = 'AdminError';
}

function parse(r: DebugReply): AdminResult {
  let body: { images?: AdminImage[]; error?: string };
  try {
    body = JSON.parse(r.body) as typeof body;
  } catch {
    throw new AdminError(`daemon answered ${r.status}: ${r.body.trim()}`);
  }
  if (r.status !== 200 || !Array.isArray(body.images)) throw new AdminError(body.error ?? `daemon answered ${r.status}`);
  return { images: body.images };
}

/**
 * Streams an archive to the daemon (chunked: its size need not be known, e.g. stdin). No
 * timeout: a multi-GB archive takes as long as the daemon's checks and unpacking take.
 */
export function importArchive(socketPath: string, source: Readable): Promise<AdminResult> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'POST', path: '/images/import', headers: { 'content-type': 'application/x-tar', 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve(parse({ status: res.statusCode ?? 0, body: text }));
        } catch (e) {
          reject(e);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    // A read error of the source aborts the request, so the daemon drops the half-sent archive.
    pipeline(source, req, (e) => {
      if (e) reject(e);
    });
  });
}

export async function tagImage(socketPath: string, source: string, target: string): Promise<AdminResult> {
  return parse(await debugRequest(socketPath, 'POST', '/images/tag', JSON.stringify({ source, target }), 30_000));
}
