import { describe, expect, it } from 'vitest';
import { notFound } from '../errors/errors.js';
import { MAX_STATUS_DETAILS, toStatus } from './errors.js';

describe('toStatus', () => {
  it('bounds details that quote huge request fields (they travel in a trailer)', () => {
    const s = toStatus(notFound(`container "${'x'.repeat(300_000)}" not found`));
    expect(s.details.length).toBeLessThan(MAX_STATUS_DETAILS + 64);
    expect(s.details).toMatch(/^container "x+… \(\d+ more characters\)$/);
    expect(toStatus(new Error('short')).details).toBe('short');
  });
});
