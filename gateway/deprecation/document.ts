import type { DeprecationIndex } from './index.js';

/** GET /deprecations: every deprecated field and argument with its plan (the `Link rel="deprecation"` target). */
export function deprecationsDocument(index: DeprecationIndex | undefined): unknown[] {
  return (index?.all() ?? []).map((d) => ({
    coordinate: d.coordinate,
    reason: d.reason,
    deprecatedSince: d.sunset?.since.toISOString() ?? null,
    sunset: d.sunset?.date.toISOString() ?? null,
    removedIn: d.sunset?.removedIn ?? null,
    replacement: d.sunset?.replacement ?? null,
    brownouts: d.sunset?.brownouts.map((b) => `${b.start.toISOString()}/${b.end.toISOString()}`) ?? [],
  }));
}
