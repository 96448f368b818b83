// monitoring/prometheus-alerts.yml: a valid rules file whose every metric is one the web pod really exports
// (read from a live /metrics of the app), so a renamed metric cannot leave a rule silently watching nothing.
import { readFileSync } from "node:fs";
import path from "node:path";
import { load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MONITOR_HEADERS, startApp, type Running } from "./helpers";

const RULES = path.resolve(__dirname, "../../monitoring/prometheus-alerts.yml");
interface Rule { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: { summary: string; description: string } }

let web: Running;
beforeAll(async () => { web = await startApp({ envExtra: { GPU_USD_PER_SECOND: "0.00031", BUDGET_MONTHLY_USD: "30" } }); });
afterAll(async () => web.close());

/** Metric families the pod exports (histograms by their base name). */
async function exported(): Promise<Set<string>> {
  const text = await (await fetch(`${web.url}/metrics`, { headers: MONITOR_HEADERS })).text();
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

/** Metric names in a PromQL expression, with histogram suffixes folded to the family. */
function metricsIn(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\bmetahuman_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, "")))];
}

describe("Prometheus alerting rules", () => {
  const doc = load(readFileSync(RULES, "utf8")) as { groups: { name: string; rules: Rule[] }[] };
  const rules = doc.groups.flatMap((g) => g.rules);

  it("has the plan's three alerts and the budget, each with a severity and words for a person", () => {
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(["MetaHumanColdStartSlow", "MetaHumanChatErrorRate", "MetaHumanVolumeAlmostFull", "MetaHumanOverBudget"]));
    for (const rule of rules) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(warning|critical)$/);
      expect(rule.annotations.summary.length, rule.alert).toBeGreaterThan(10);
    }
  });

  it("names only metrics the pod exports", async () => {
    const families = await exported();
    const missing = rules.flatMap((r) => metricsIn(r.expr).filter((m) => !families.has(m)).map((m) => `${r.alert}: ${m}`));
    expect(missing).toEqual([]);
    // The check can fail: a name the pod does not export is caught.
    expect(metricsIn("metahuman_no_such_metric > 1").filter((m) => !families.has(m))).toEqual(["metahuman_no_such_metric"]);
  });
});
