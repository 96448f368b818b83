// Keeping the web pod running only in its web hours (metahuman:webHours): status, stop, start, and the
// scheduled step that does whichever the clock asks, all through the REST v2 client (POST /v2/pods/{id}/action).
// The volume and the endpoint are never touched. A start RunPod refuses (a stopped pod is tied to its host,
// and that host may have no free CPU) is reported in words with the way out: recreate the pod elsewhere.
import { isOpen, type WebHours } from "../common/daily-window";
import { RunPodApiError } from "./errors";
import type { RunPodRestClient } from "./rest";

/** The pod's state as RunPod reports it, and what the schedule wants. */
export interface WebPodStatus {
  podId: string;
  status: string;
  /** USD per hour RunPod reports for the pod while it runs (the spec's `cost`). */
  costPerHour: number;
  webHours: string;
  /** Whether the schedule wants the pod running now. */
  open: boolean;
}

export type WebPodChange = "started" | "stopped" | "already running" | "already stopped";

/** RunPod would not start the pod. `message` says why in RunPod's words and what to do. */
export class WebPodStartRefused extends Error {
  constructor(readonly podId: string, readonly reason: string) {
    super(
      `RunPod refused to start the web pod ${podId}: ${reason}\n`
      + "A stopped pod can only start again on the host that holds it; when that host has no free CPU, it cannot start there.\n"
      + "The way out: recreate the pod on another host (the volume, its data and the endpoint stay; the pod gets a new id and webUrl):\n"
      + "  pulumi up --replace \"$(pulumi stack --show-urns | grep -o 'urn:pulumi:[^ ]*::metahuman-web')\"\n"
      + "then `pulumi stack output webUrl` for the new address.",
    );
    this.name = "WebPodStartRefused";
  }
}

export async function webPodStatus(client: RunPodRestClient, podId: string, hours: WebHours, now: Date = new Date()): Promise<WebPodStatus> {
  const pod = await client.pods.get(podId);
  return { podId, status: pod.status, costPerHour: pod.cost, webHours: hours.text, open: isOpen(hours, now) };
}

export async function startWebPod(client: RunPodRestClient, podId: string): Promise<WebPodChange> {
  const pod = await client.pods.get(podId);
  if (pod.status === "RUNNING" || pod.status === "STARTING" || pod.status === "PROVISIONING") return "already running";
  try {
    await client.pods.action(podId, "start");
  } catch (error) {
    // Wrong key, no such pod, or a call that never got an answer are not refusals: they keep their own words.
    if (RunPodApiError.isInstance(error) && error.status !== undefined && ![401, 403, 404, 429].includes(error.status)) {
      throw new WebPodStartRefused(podId, `${error.status} ${error.title}: ${error.detail}`);
    }
    throw error;
  }
  return "started";
}

export async function stopWebPod(client: RunPodRestClient, podId: string): Promise<WebPodChange> {
  const pod = await client.pods.get(podId);
  // ERROR allows only start and terminate: the pod is not running, so there is nothing to stop.
  if (pod.status === "EXITED" || pod.status === "TERMINATED" || pod.status === "ERROR") return "already stopped";
  await client.pods.action(podId, "stop");
  return "stopped";
}

/** The scheduled step: start the pod in its hours, stop it outside them; nothing when it already is as it should be. */
export async function applyWebHours(client: RunPodRestClient, podId: string, hours: WebHours, now: Date = new Date()): Promise<WebPodChange> {
  return isOpen(hours, now) ? startWebPod(client, podId) : stopWebPod(client, podId);
}
