// The image store's admin routes on the root-only debug socket (pkg/metrics/debug-socket.ts):
//   POST /images/import   body: an image archive (docker save / OCI layout tar, maybe gzip'd);
//                         answer: {"images":[{"id","repoTags","repoDigests"}]}
//   POST /images/tag      body: {"source": REF|ID, "target": REF}; answer: the same image shape
// Why in the daemon and not a CLI writing the store: the daemon owns the store's in-memory index,
// its lock and its GC. A second writer would race GC (removing "unused" snapshots mid-import) and
// leave the running daemon blind to the new image until a restart.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import { isBulkheadError, type ErrorKind } from '../errors/errors.js';
import type { ImageRecord, ImageStore } from '../image/image-store.js';
import type { AdminRoute } from '../metrics/debug-handlers.js';
import { readBody, send } from '../metrics/http-util.js';

export interface ImportedImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
}

const HTTP_OF: Partial<Record<ErrorKind, number>> = {
  'invalid-argument': 400,
  'not-found': 404,
  'failed-precondition': 422,
};

const shape = (r: ImageRecord): ImportedImage => ({ id: r.id, repoTags: r.repoTags, repoDigests: r.repoDigests });
const json = (res: ServerResponse, code: number, v: unknown) => send(res, code, `${JSON.stringify(v)}\n`, 'application/json');

function fail(res: ServerResponse, log: Logger, what: string, e: unknown): void {
  const code = isBulkheadError(e) ? (HTTP_OF[e.kind] ?? 500) : 500;
  if (code === 500) log.warn({ err: e }, `${what} failed`);
  json(res, code, { error: e instanceof Error ? e.message : String(e) });
}

export function imageAdminRoutes(images: ImageStore, log: Logger): AdminRoute[] {
  return [
    {
      path: '/images/import',
      async handle(req: IncomingMessage, res: ServerResponse) {
        if (req.method !== 'POST') return send(res, 405, 'POST an image archive\n');
        // Through a PassThrough, not req itself: an import that refuses the archive half-way
        // destroys its input, and a destroyed req would take the socket and the error answer
        // with it. Unpiped, req's rest is drained by node once the answer is sent.
        const body = new PassThrough();
        req.pipe(body);
        req.on('close', () => {
          if (!req.complete) body.destroy(new Error('client went away before the end of the archive'));
        });
        try {
          const records = await images.importArchive(body);
          json(res, 200, { images: records.map(shape) });
        } catch (e) {
          if (!req.complete && req.destroyed) return void res.destroy(); // nobody left to answer
          fail(res, log, 'image import', e);
        }
      },
    },
    {
      path: '/images/tag',
      async handle(req: IncomingMessage, res: ServerResponse) {
        if (req.method !== 'POST') return send(res, 405, 'POST {"source","target"}\n');
        let body: { source?: unknown; target?: unknown };
        try {
          body = JSON.parse(await readBody(req, 4096)) as typeof body;
        } catch {
          return json(res, 400, { error: 'body must be JSON {"source","target"}' });
        }
        if (typeof body.source !== 'string' || typeof body.target !== 'string') return json(res, 400, { error: 'source and target must be strings' });
        try {
          json(res, 200, { images: [shape(await images.tag(body.source, body.target))] });
        } catch (e) {
          fail(res, log, 'image tag', e);
        }
      },
    },
  ];
}
