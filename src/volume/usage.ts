// ls and du: what the volume holds, and how full it is, from outside (no pod needed). du raises the web pod's
// storage alert (src/app/server/alerts.ts: over 80 % full) the same way, for a cron job or CI to act on.
import { shown } from "./names";
import { formatBytes } from "./progress";
import type { VolumeClient } from "./volume-client";

export const STORAGE_ALERT_RATIO = 0.8;

export async function ls(client: VolumeClient, prefix: string, out: (line: string) => void): Promise<number> {
  const objects = await client.list(prefix);
  for (const o of objects) out(`${formatBytes(o.size).padStart(11)}  ${o.lastModified.toISOString().replace(/\.\d{3}Z$/, "Z")}  ${shown(o.key)}`);
  out(`${objects.length} file(s), ${formatBytes(objects.reduce((n, o) => n + o.size, 0))}`);
  return objects.length;
}

export interface Usage {
  used: number;
  size?: number;
  ratio?: number;
  /** Bytes per top-level area: a model's cache folder, metahuman/, users, … */
  areas: Map<string, number>;
  alert?: string;
}

/** The area a key counts toward: `huggingface-cache/hub/models--org--name`, `metahuman/memory`, or its first folder. */
function areaOf(key: string): string {
  const parts = key.split("/");
  if (parts[0] === "huggingface-cache" && parts[1] === "hub" && parts.length > 3) return parts.slice(0, 3).join("/");
  if (parts[0] === "metahuman" && parts.length > 2) return parts.slice(0, 2).join("/");
  return parts.length > 1 ? parts[0]! : "(top level)";
}

export async function du(client: VolumeClient, out: (line: string) => void): Promise<Usage> {
  const areas = new Map<string, number>();
  let used = 0;
  for (const o of await client.list("")) {
    used += o.size;
    const area = areaOf(o.key);
    areas.set(area, (areas.get(area) ?? 0) + o.size);
  }
  for (const [area, bytes] of [...areas].sort((a, b) => b[1] - a[1])) out(`${formatBytes(bytes).padStart(11)}  ${shown(area)}`);
  const size = client.target.sizeBytes;
  if (size === undefined) {
    out(`${formatBytes(used)} used (the volume's size is unknown: pass --size-gb or set RUNPOD_API_KEY to look it up)`);
    return { used, areas };
  }
  const ratio = used / size;
  out(`${formatBytes(used)} used of ${formatBytes(size)} (${(ratio * 100).toFixed(1)} %)`);
  const usage: Usage = { used, size, ratio, areas };
  if (ratio > STORAGE_ALERT_RATIO) {
    usage.alert = `ALERT storage: the volume is ${(ratio * 100).toFixed(1)} % full (over ${STORAGE_ALERT_RATIO * 100} %): ` +
      "grow it with `pulumi config set metahuman:volumeSizeGb <GB>` and `pulumi up`, or free room";
    out(usage.alert);
  }
  return usage;
}
