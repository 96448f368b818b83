// Text, comparison and SVG renderings of a CostEstimate, for `npm run cost` and the CI job summary.
// Plain functions of their inputs so tests read exactly what a person reads.
import type { StackConfig } from "../config";
import type { ActualComparison } from "./actuals";
import { estimateUsage, PLAN_CLAIMED_USD_PER_MONTH, REALISTIC_PROFILES, type CostEstimate, type UsageProfile } from "./estimate";
import { significant } from "./summary";

const money = (n: number, digits = 2) => `$${n.toFixed(digits)}`;
const signed = (n: number) => `${n >= 0 ? "+" : "-"}$${Math.abs(n).toFixed(2)}`;

function table(rows: string[][], alignRight: boolean[] = []): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (alignRight[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd()).join("\n");
}

export function formatEstimate<P extends string>(estimate: CostEstimate<P>, title: string): string {
  const b = estimate.base;
  const budgetState = estimate.baseMonthlyUsd <= estimate.budgetMonthlyUsd ? "within budget" : "OVER BUDGET";
  const lines = [
    title,
    `Prices: ${estimate.priceSource.source} as of ${estimate.priceSource.asOf}`,
    ...estimate.priceSource.notes.map((n) => `  - ${n}`),
    "",
    "Base (billed whether or not anyone chats)",
    table([
      ["item", "inputs", "$/month"],
      ["network volume", `${b.volume.sizeGb} GB ${b.volume.type} × ${money(b.volume.usdPerGbMonth)}/GB-month${b.volume.sizeGb > 1000 ? ` (beyond 1 TB ${money(b.volume.beyondTbUsdPerGbMonth)})` : ""}`, b.volume.usdPerMonth.toFixed(2)],
      ["web pod", `${b.webPod.vcpu} vCPU ${b.webPod.flavor} × $${significant(b.webPod.usdPerVcpuHour)}/vCPU-h × ${hoursText(b.webPod)}`, b.webPod.usdPerMonth.toFixed(2)],
      ["container disk", `${b.containerDisk.sizeGb} GB × ${money(b.containerDisk.usdPerGbMonth)}/GB-month`, b.containerDisk.usdPerMonth.toFixed(2)],
      ["warm workers", `${b.warmWorkers.count} × $${significant(b.warmWorkers.gpuUsdPerSecond)}/s × ${b.warmWorkers.secondsPerMonth} s`, b.warmWorkers.usdPerMonth.toFixed(2)],
      ["total", `budget ${money(estimate.budgetMonthlyUsd)}: ${budgetState}`, estimate.baseMonthlyUsd.toFixed(2)],
    ], [false, false, true]),
    `(web pod rate: ${b.webPod.rateSource})`,
    "",
    `GPU: ${estimate.gpuPool} at $${significant(estimate.gpuUsdPerSecond)}/s per worker (${money(estimate.gpuUsdPerSecond * 3600, 3)}/h)`
      + (Object.keys(estimate.gpuUsdPerSecondByPool).length > 1
        ? `; fallback pools: ${Object.entries(estimate.gpuUsdPerSecondByPool).slice(1).map(([p, r]) => `${p} $${significant(r as number)}/s`).join(", ")}` : ""),
    "",
    "Usage profiles (GPU seconds billed per day = execution + cold starts + waiting between chats + idle tail)",
    table([
      ["profile", "chats/day", "s/chat", "cold starts/day", "GPU s/day", "(exec+cold+wait+idle)", "$/day", "usage $/month", "total $/month"],
      ...Object.entries(estimate.profiles).map(([name, raw]) => {
        const p = raw as CostEstimate<P>["profiles"][P];
        const s = p.gpuSecondsPerDay;
        return [name, String(p.inputs.chatsPerDay), `${p.inputs.callsPerChat} × ${p.inputs.secondsPerCall}`, String(p.coldStartsPerDay), String(round1(s.total)),
          `(${round1(s.execution)}+${round1(s.coldStart)}+${round1(s.waiting)}+${round1(s.idleTail)})`,
          p.usdPerDay.toFixed(2), p.usageMonthlyUsd.toFixed(2), p.monthlyUsd.toFixed(2)];
      }),
    ], [false, true, true, true, true, false, true, true, true]),
    `(${estimate.daysPerMonth.toFixed(4)} days and ${estimate.hoursPerMonth} hours per month; idle timeout ${firstProfile(estimate)?.inputs.idleTimeoutSeconds} s,`
      + ` FlashBoot ${firstProfile(estimate)?.inputs.flashboot ? "on" : "off"}, cold start ${describeColdStart(estimate)})`,
    ...planLines(estimate),
  ];
  return lines.join("\n");
}

/** The plan's examples (when estimated): the plan's claimed usage $/month beside ours for the same chats. */
function planLines<P extends string>(estimate: CostEstimate<P>): string[] {
  const rows = (Object.keys(PLAN_CLAIMED_USD_PER_MONTH) as (keyof typeof PLAN_CLAIMED_USD_PER_MONTH)[])
    .filter((name) => name in estimate.profiles)
    .map((name) => {
      const p = (estimate.profiles as Record<string, CostEstimate<P>["profiles"][P]>)[name]!;
      const claimed = PLAN_CLAIMED_USD_PER_MONTH[name];
      return [name, `${p.inputs.chatsPerDay} × ${p.inputs.callsPerChat} × ${p.inputs.secondsPerCall} s`, claimed.toFixed(2), p.usageMonthlyUsd.toFixed(2),
        `${(p.usageMonthlyUsd / claimed * 100).toFixed(0)} %`, p.monthlyUsd.toFixed(2)];
    });
  if (rows.length === 0) return [];
  return [
    "",
    "The plan's own examples (\"~$30/mo + usage\"): the plan's usage claim beside our estimate of the same chats",
    table([["example", "chats/day", "plan's usage $/month", "our usage $/month", "ours/plan", "our total $/month"], ...rows],
      [false, true, true, true, true, true]),
    `(ours counts each chat's cold start and idle tail at $${significant(estimate.gpuUsdPerSecond)}/s; the plan's base is ~$30,`
      + ` this config's is ${money(estimate.baseMonthlyUsd)}: ${estimate.baseMonthlyUsd <= 30 ? "within" : "over"} the plan's figure)`,
  ];
}

function hoursText(w: CostEstimate["base"]["webPod"]): string {
  return w.webHours === "always" ? `${w.hoursPerMonth} h` : `${round1(w.hoursPerMonth)} h (${w.webHours}: ${significant(w.hoursPerDay, 3)} h/day)`;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
function firstProfile<P extends string>(e: CostEstimate<P>) { return Object.values(e.profiles)[0] as CostEstimate<P>["profiles"][P] | undefined; }
function describeColdStart<P extends string>(e: CostEstimate<P>): string {
  const p = firstProfile(e);
  if (!p) return "n/a";
  return p.inputs.flashboot ? `${p.inputs.flashbootColdStartSeconds} s with FlashBoot` : `${p.inputs.coldStartSeconds} s`;
}

export interface EstimateChange<P extends string> {
  settings: { key: keyof StackConfig; from: unknown; to: unknown }[];
  baseMonthlyUsd: { from: number; to: number; change: number };
  profiles: Record<P, { from: number; to: number; change: number }>;
}

export function diffEstimates<P extends string>(current: StackConfig, proposed: StackConfig, a: CostEstimate<P>, b: CostEstimate<P>): EstimateChange<P> {
  const settings = (Object.keys(proposed) as (keyof StackConfig)[])
    .filter((k) => JSON.stringify(current[k]) !== JSON.stringify(proposed[k]))
    .map((key) => ({ key, from: current[key], to: proposed[key] }));
  const profiles = {} as EstimateChange<P>["profiles"];
  for (const name of Object.keys(a.profiles) as P[]) {
    const from = a.profiles[name].monthlyUsd;
    const to = b.profiles[name]?.monthlyUsd ?? NaN;
    profiles[name] = { from, to, change: to - from };
  }
  return { settings, baseMonthlyUsd: { from: a.baseMonthlyUsd, to: b.baseMonthlyUsd, change: b.baseMonthlyUsd - a.baseMonthlyUsd }, profiles };
}

export function formatChange<P extends string>(change: EstimateChange<P>, currentName: string, proposedName: string): string {
  const settingLines = change.settings.length === 0 ? ["  (no setting differs)"]
    : change.settings.map((s) => `  metahuman:${s.key}: ${JSON.stringify(s.from)} → ${JSON.stringify(s.to)}`);
  return [
    `Cost change from ${currentName} to ${proposedName}`,
    "Settings that differ:",
    ...settingLines,
    "",
    table([
      ["$/month", "current", "proposed", "change"],
      ["base", change.baseMonthlyUsd.from.toFixed(2), change.baseMonthlyUsd.to.toFixed(2), signed(change.baseMonthlyUsd.change)],
      ...Object.entries(change.profiles).map(([name, raw]) => {
        const v = raw as { from: number; to: number; change: number };
        return [`${name} (total)`, v.from.toFixed(2), v.to.toFixed(2), signed(v.change)];
      }),
    ], [false, true, true, true]),
  ].join("\n");
}

export function formatActuals<P extends string>(comparison: ActualComparison<P>): string {
  const p = comparison.period;
  return [
    `Actual spend ${p.startTime} to ${p.endTime} (${p.days.toFixed(2)} days) beside the estimate for the same period`,
    table([
      ["item", "estimate", "actual", "difference"],
      ...comparison.rows.map((r) => [r.item, r.estimateUsd.toFixed(2), r.actualUsd.toFixed(2), signed(r.differenceUsd)]),
      ["total", "", comparison.actualTotalUsd.toFixed(2), ""],
    ], [false, true, true, true]),
    "Serverless spend each profile predicts for the period (warm workers + usage):",
    ...Object.entries(comparison.serverlessByProfile).map(([name, usd]) => `  ${name}: ${money(usd as number)}`),
    comparison.nearestProfile ? `Actual serverless use is nearest the ${comparison.nearestProfile} profile.` : "",
  ].join("\n");
}

export interface ChartSeries { label: string; config: StackConfig; baseMonthlyUsd: number; gpuUsdPerSecond: number; budgetMonthlyUsd: number }

/**
 * SVG line chart of total $/month against chats per day (0 to maxChats) for each series, using the medium
 * profile's other inputs; the budget of the first series is drawn dashed. Hand-written SVG, no browser needed.
 */
export function renderChartSvg(series: ChartSeries[], options: { maxChats?: number; profile?: UsageProfile; title?: string } = {}): string {
  const maxChats = options.maxChats ?? 600;
  const profile = options.profile ?? REALISTIC_PROFILES.medium;
  const W = 720, H = 420, left = 70, right = 180, top = 40, bottom = 50;
  const plotW = W - left - right, plotH = H - top - bottom;
  const steps = 60;
  const points = series.map((s) => Array.from({ length: steps + 1 }, (_, i) => {
    const chats = (maxChats * i) / steps;
    return { chats, usd: estimateUsage(s.config, s.gpuUsdPerSecond, s.baseMonthlyUsd, { ...profile, chatsPerDay: chats }).monthlyUsd };
  }));
  const budget = series[0]?.budgetMonthlyUsd ?? 0;
  const maxUsd = niceCeil(Math.max(budget, ...points.flat().map((p) => p.usd)));
  const x = (chats: number) => left + (chats / maxChats) * plotW;
  const y = (usd: number) => top + plotH - (usd / maxUsd) * plotH;
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(options.title ?? "Estimated $/month against chats per day")}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const usd = (maxUsd * i) / 5;
    out.push(`<line x1="${left}" y1="${y(usd)}" x2="${left + plotW}" y2="${y(usd)}" stroke="#e5e5e5"/>`,
      `<text x="${left - 8}" y="${y(usd) + 4}" text-anchor="end">$${usd.toFixed(0)}</text>`);
    const chats = (maxChats * i) / 5;
    out.push(`<text x="${x(chats)}" y="${top + plotH + 18}" text-anchor="middle">${chats.toFixed(0)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="black"/>`,
    `<text x="${left + plotW / 2}" y="${H - 12}" text-anchor="middle">chats per day (${profile.callsPerChat ?? 1} calls of ${profile.secondsPerCall} s each, ${profile.sessionsPerDay} sessions, ${profile.secondsBetweenChats} s apart)</text>`,
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">USD per month</text>`);
  if (budget > 0) {
    out.push(`<line x1="${left}" y1="${y(budget)}" x2="${left + plotW}" y2="${y(budget)}" stroke="#555" stroke-dasharray="6 4"/>`,
      `<text x="${left + plotW + 6}" y="${y(budget) + 4}">budget $${budget.toFixed(0)}</text>`);
  }
  points.forEach((line, i) => {
    const color = colors[i % colors.length]!;
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${line.map((p) => `${x(p.chats).toFixed(1)},${y(p.usd).toFixed(1)}`).join(" ")}"/>`);
    const last = line[line.length - 1]!;
    out.push(`<text x="${left + plotW + 6}" y="${top + 14 + i * 32}" fill="${color}">${esc(series[i]!.label)}</text>`,
      `<text x="${left + plotW + 6}" y="${top + 28 + i * 32}" fill="${color}">$${line[0]!.usd.toFixed(0)} → $${last.usd.toFixed(0)}/month</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function niceCeil(n: number): number {
  if (n <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= n) return step * magnitude;
  return 10 * magnitude;
}
