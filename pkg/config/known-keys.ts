// Finds which keys the schema accepts at a given key path, so an unknown key can be answered with
// "did you mean ...?" (the usual mistake is a typo: log_levl, max_concurent_downloads).
import { z } from 'zod';

/** Unwraps defaults, optionals and refinements down to the schema that has a shape. */
function unwrap(s: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s._def.innerType as z.ZodTypeAny;
    else if (s instanceof z.ZodEffects) s = s._def.schema as z.ZodTypeAny;
    else return s;
  }
}

/** Keys allowed at `path` of `doc` (the document being validated, to pick discriminated-union members). */
export function knownKeysAt(schema: z.ZodTypeAny, path: (string | number)[], doc: unknown): string[] {
  let s = unwrap(schema);
  let d: unknown = doc;
  const step = (): void => {
    // A discriminated union is resolved by the document's own discriminator value.
    if (s instanceof z.ZodDiscriminatedUnion) {
      const disc = d && typeof d === 'object' ? (d as Record<string, unknown>)[s.discriminator as string] : undefined;
      const opt = (s.optionsMap as Map<unknown, z.ZodTypeAny>).get(disc);
      if (opt) s = unwrap(opt);
    }
  };
  step();
  for (const seg of path) {
    if (s instanceof z.ZodObject) s = unwrap((s.shape as Record<string, z.ZodTypeAny>)[String(seg)] ?? z.never());
    else if (s instanceof z.ZodRecord) s = unwrap(s._def.valueType as z.ZodTypeAny);
    else if (s instanceof z.ZodArray) s = unwrap(s._def.type as z.ZodTypeAny);
    else return [];
    d = d && typeof d === 'object' ? (d as Record<string, unknown>)[String(seg)] : undefined;
    step();
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** The closest known key, if it is close enough to be a plausible typo. */
export function suggestKey(unknown: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(unknown.toLowerCase(), k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(unknown.length / 3)) ? best : undefined;
}
