// The slice of the image branch's ImageStore the container manager uses (structural type).
import type { OciImageConfig } from '../oci/spec-types.js';

export interface ImageRecordLike {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  config: { config?: OciImageConfig | null };
}

export interface ImageSource {
  resolve(refOrId: string): ImageRecordLike | undefined;
  /** Overlay lowerdirs, top-most first; held until releaseLayers(leaseId). */
  acquireLayers(imageId: string, leaseId: string): Promise<string[]>;
  releaseLayers(leaseId: string): Promise<void>;
}
