// Cross-field checks of the `metrics` section: a token on the main port in production, distinct ports, a loud warning when open.

interface MetricsView {
  enabled?: unknown;
  onMainPort?: unknown;
  token?: unknown;
  port?: unknown;
}

/** Adds "path: problem" lines to `errors` and development warnings to `warnings`; reads the section parsed or as written. */
export function metricsProblems(section: unknown, mainPort: unknown, production: boolean, errors: string[], warnings: string[]): void {
  const metrics = (section && typeof section === 'object' ? section : {}) as MetricsView;
  if (metrics.enabled !== true) return;
  if (metrics.onMainPort === true) {
    if (metrics.token) return;
    if (production) errors.push('metrics.token: required when metrics.onMainPort is true and NODE_ENV=production (set METRICS_TOKEN or METRICS_TOKEN_FILE)');
    else warnings.push('metrics.onMainPort without metrics.token: /metrics is open to anyone who reaches the broker');
    return;
  }
  if ((metrics.port ?? 9464) === (mainPort ?? 3000)) errors.push(`metrics.port: must differ from port (${String(mainPort ?? 3000)}), or set metrics.onMainPort`);
}
