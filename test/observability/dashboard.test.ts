// deploy/grafana-dashboard.json: valid JSON whose every query names series and labels that /metrics really exports.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { declaredNames, scrape } from './scrape.js';

interface Target {
  refId: string;
  expr: string;
}
interface Panel {
  id: number;
  title: string;
  datasource: { type: string; uid: string };
  targets: Target[];
}

const dashboard = JSON.parse(readFileSync('deploy/grafana-dashboard.json', 'utf8')) as { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; query?: unknown }[] } };
const SERIES = /\b(?:vestibule|nodejs|process)_[a-z0-9_]+\b/g;
const queries = [...dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr)), ...dashboard.templating.list.map((variable) => JSON.stringify(variable.query ?? ''))];

let broker: TestBroker;
let text: string;

beforeAll(async () => {
  broker = await startBroker({ config: { metrics: { enabled: true, onMainPort: true } } });
  text = await scrape(`${broker.issuer}/metrics`);
});
afterAll(async () => broker?.close());

describe('the Grafana dashboard', () => {
  it('has a uid, unique panel ids, and a Prometheus query on every panel', () => {
    expect(dashboard.uid).toBe('vestibule-broker');
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
    for (const panel of dashboard.panels) {
      expect(panel.datasource.type).toBe('prometheus');
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const target of panel.targets) expect(target.expr).toMatch(SERIES);
    }
  });

  it('queries only series that /metrics exports', () => {
    const declared = declaredNames(text);
    const used = new Set(queries.flatMap((query) => query.match(SERIES) ?? []));
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((name) => !declared.has(name))).toEqual([]);
  });

  it('groups only by labels the series carry', () => {
    const registry = broker.app.metrics.registry;
    for (const query of queries) {
      for (const match of query.matchAll(/by \(([^)]*)\) \((?:rate\()?(vestibule_[a-z0-9_]+)/g)) {
        const series = match[2]!;
        const base = series.replace(/_(bucket|count|sum)$/, '');
        const metric = registry.getSingleMetric(registry.getSingleMetric(series) ? series : base);
        expect(metric, series).toBeDefined();
        const labels = new Set([...(metric as unknown as { labelNames: string[] }).labelNames, ...(series.endsWith('_bucket') ? ['le'] : [])]);
        for (const label of match[1]!.split(',').map((name) => name.trim())) expect(labels.has(label), `${series} by ${label}`).toBe(true);
      }
    }
  });

  it('covers each series the broker defines', () => {
    const defined = broker.app.metrics.registry.getMetricsAsArray().map((metric) => (metric as unknown as { name: string }).name).filter((name) => name.startsWith('vestibule_'));
    const used = queries.join('\n');
    expect(defined.filter((name) => !used.includes(name))).toEqual([]);
  });
});
