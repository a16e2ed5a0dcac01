import { requestError } from '../../lib/errors.js';
import { isRefused, type Deprecation, type DeprecationIndex } from '../deprecation/index.js';
import type { OperationAnalysis } from '../operation/analysis.js';
import type { Stage } from './stage.js';

export interface DeprecationStageOptions {
  /** Available once the schema is loaded. */
  deprecations(): DeprecationIndex | undefined;
  /** Injectable clock (tests freeze it), ms since the epoch. */
  now: () => number;
  /** Where clients read the deprecation policy (the Link header). */
  link: string;
}

const day = (date: Date) => date.toISOString().slice(0, 10);

/**
 * Versioned deprecation: an operation that uses a deprecated field or argument is answered with
 * `extensions.deprecations` and the Deprecation (RFC 9745), Sunset (RFC 8594) and
 * `Link rel="deprecation"` headers; past its sunset date, or in a brownout window, it is refused
 * before any subgraph is called, with FIELD_SUNSET naming the replacement.
 */
export function deprecationStage(options: DeprecationStageOptions): Stage {
  const usedByOperation = new WeakMap<OperationAnalysis, readonly Deprecation[]>();
  const used = (analysis: OperationAnalysis, index: DeprecationIndex): readonly Deprecation[] => {
    let found = usedByOperation.get(analysis);
    if (!found) {
      found = analysis.coordinates.flatMap((c) => index.get(c) ?? []);
      usedByOperation.set(analysis, found);
    }
    return found;
  };
  return {
    name: 'deprecation',
    resolved({ state }) {
      const index = options.deprecations();
      if (!index) return;
      state.deprecations = used(state.resolved!.analysis, index);
      const now = options.now();
      const gone = state.deprecations.find((d) => isRefused(d.sunset, now));
      if (gone?.sunset) {
        const replacement = gone.sunset.replacement;
        const past = now >= gone.sunset.date.getTime();
        throw requestError(
          'FIELD_SUNSET',
          `${gone.coordinate} ${past ? `was retired on ${day(gone.sunset.date)}` : `is in a brownout before its retirement on ${day(gone.sunset.date)}`}${replacement ? `: use ${replacement}` : ''}`,
          { coordinate: gone.coordinate, sunset: gone.sunset.date.toISOString(), ...(replacement ? { replacement } : {}) },
        );
      }
    },
    responding({ state, response }) {
      const { deprecations } = state;
      if (deprecations.length === 0) return;
      if (response.body.kind === 'single') {
        const result = response.body.singleResult;
        result.extensions = {
          ...result.extensions,
          deprecations: deprecations.map((d) => ({
            coordinate: d.coordinate,
            reason: d.reason,
            sunset: d.sunset ? d.sunset.date.toISOString() : null,
            replacement: d.sunset?.replacement ?? null,
          })),
        };
      }
      const withPlan = deprecations.flatMap((d) => (d.sunset ? [d.sunset] : []));
      if (withPlan.length) {
        const since = Math.min(...withPlan.map((s) => s.since.getTime()));
        const sunset = Math.min(...withPlan.map((s) => s.date.getTime()));
        response.http.headers.set('deprecation', `@${Math.floor(since / 1000)}`);
        response.http.headers.set('sunset', new Date(sunset).toUTCString());
      } else {
        // Deprecated without a plan: still deprecated (RFC 9745 wants a date; "now or earlier" is true).
        response.http.headers.set('deprecation', `@${Math.floor(options.now() / 1000)}`);
      }
      response.http.headers.set('link', `<${options.link}>; rel="deprecation"; type="application/json"`);
    },
  };
}
