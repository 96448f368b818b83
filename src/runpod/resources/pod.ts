// Pod: a RunPod CPU pod (the always-on web server) as a Pulumi dynamic resource on the REST v2
// client. The CPU flavor, vCPU count, cloud and data centers are fixed at creation (a change
// replaces the pod); name, image, env, ports, disk and the volume mount are PATCHed (RunPod restarts
// the pod). `env` may hold secrets: the resource marks that output secret, so state keeps it encrypted.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { CLOUDS, type Pod as PodAnswer, type UpdatePodBody } from "../schemas";
import { defineResourceProvider } from "./provider-factory";

export interface PodArgs {
  /** Pod name. */
  readonly name: pulumi.Input<string>;
  /** Container image. */
  readonly image: pulumi.Input<string>;
  /** Environment variables; may contain secrets (kept secret in state). */
  readonly env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Exposed ports, e.g. ["4321/http"]. */
  readonly ports?: pulumi.Input<pulumi.Input<string>[]>;
  /** Container disk in GB. Default 20. */
  readonly containerDiskGb?: pulumi.Input<number>;
  /** SECURE or COMMUNITY; immutable. Default SECURE. */
  readonly cloud?: pulumi.Input<(typeof CLOUDS)[number]>;
  /** CPU flavor id, e.g. cpu3g; immutable. */
  readonly cpuFlavor: pulumi.Input<string>;
  /** vCPUs (≥ 2; memory is vCPU × the flavor's GB per vCPU); immutable. */
  readonly vcpuCount: pulumi.Input<number>;
  /** Data centers the pod may be placed in; immutable. */
  readonly dataCenterIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** Network volume to mount. */
  readonly networkVolumeId?: pulumi.Input<string>;
  /** Where the volume is mounted. Default /runpod-volume. */
  readonly volumeMountPath?: pulumi.Input<string>;
}

export interface PodInputs {
  name: string;
  image: string;
  env: Record<string, string>;
  ports: string[];
  containerDiskGb: number;
  cloud: (typeof CLOUDS)[number];
  cpuFlavor: string;
  vcpuCount: number;
  dataCenterIds: string[];
  networkVolumeId?: string;
  volumeMountPath: string;
}

export interface PodOutputs extends PodInputs {
  /** Where RunPod placed the pod. */
  dataCenterId: string;
  status: string;
  /** USD per hour. */
  costPerHour: number;
  /** Public URL of each HTTP port: https://{podId}-{port}.proxy.runpod.net. */
  httpUrls: Record<string, string>;
}

export function podInputSchema() {
  return z
    .object({
      name: z.string({ required_error: "required: a non-empty name" }).min(1, "allowed: a non-empty name"),
      image: z.string({ required_error: "required: a container image" }).min(1, "allowed: a container image reference"),
      env: z.record(z.string({ invalid_type_error: "allowed: string values" })).default({}),
      ports: z.array(z.string().regex(/^\d{1,5}\/(http|tcp)$/, 'allowed: "PORT/http" or "PORT/tcp", e.g. "4321/http"')).default([]),
      containerDiskGb: z.number().int("allowed: an integer number of GB ≥ 1").min(1, "allowed: at least 1 GB").default(20),
      cloud: z.enum(CLOUDS, { errorMap: () => ({ message: `allowed: ${CLOUDS.join(" or ")}` }) }).default("SECURE"),
      cpuFlavor: z.string({ required_error: "required: a CPU flavor such as cpu3g" }).min(1, "allowed: a CPU flavor such as cpu3g"),
      vcpuCount: z.number({ required_error: "required: an integer ≥ 2" }).int("allowed: an integer ≥ 2").min(2, "allowed: an integer ≥ 2"),
      dataCenterIds: z.array(z.string().min(1)).default([]),
      networkVolumeId: z.string().min(1).optional(),
      volumeMountPath: z.string().startsWith("/", "allowed: an absolute path").default("/runpod-volume"),
    })
    .strict();
}

function podOutputs(pod: PodAnswer, previous: Partial<PodInputs>): PodOutputs {
  const mount = pod.mounts.network?.[0];
  const httpUrls: Record<string, string> = {};
  for (const port of pod.ports) {
    const [number, kind] = port.split("/");
    if (kind === "http") httpUrls[number as string] = `https://${pod.id}-${number}.proxy.runpod.net`;
  }
  return {
    name: pod.name,
    image: pod.image,
    env: pod.env,
    ports: pod.ports,
    containerDiskGb: pod.disk,
    cloud: pod.cloud,
    cpuFlavor: pod.cpu?.id ?? previous.cpuFlavor ?? "",
    vcpuCount: pod.cpu?.vcpuCount ?? previous.vcpuCount ?? 0,
    // RunPod reports where the pod is, not the list it was allowed: keep the list we asked for.
    dataCenterIds: previous.dataCenterIds ?? [],
    ...(mount ? { networkVolumeId: mount.volumeId } : {}),
    volumeMountPath: mount?.path ?? previous.volumeMountPath ?? "/runpod-volume",
    dataCenterId: pod.dataCenterId ?? "",
    status: pod.status,
    costPerHour: pod.cost,
    httpUrls,
  };
}

function mountsOf(inputs: PodInputs) {
  return inputs.networkVolumeId ? { network: [{ volumeId: inputs.networkVolumeId, path: inputs.volumeMountPath }] } : {};
}

export const podProvider = defineResourceProvider<PodInputs, PodOutputs>({
  kind: "Pod",
  inputSchema: podInputSchema,
  immutable: ["cpuFlavor", "vcpuCount", "cloud", "dataCenterIds"],
  updatable: ["name", "image", "env", "ports", "containerDiskGb", "networkVolumeId", "volumeMountPath"],
  async create(client, inputs) {
    const pod = await client.pods.create({
      name: inputs.name,
      image: inputs.image,
      env: inputs.env,
      ports: inputs.ports,
      disk: inputs.containerDiskGb,
      cloud: inputs.cloud,
      cpu: { id: inputs.cpuFlavor, vcpuCount: inputs.vcpuCount },
      ...(inputs.dataCenterIds.length > 0 ? { dataCenterIds: inputs.dataCenterIds } : {}),
      mounts: mountsOf(inputs),
    });
    return { id: pod.id, outs: podOutputs(pod, inputs) };
  },
  async read(client, id, previous) {
    return podOutputs(await client.pods.get(id), previous);
  },
  async update(client, id, news, changed) {
    const body: UpdatePodBody = {};
    if (changed.includes("name")) body.name = news.name;
    if (changed.includes("image")) body.image = news.image;
    if (changed.includes("env")) body.env = news.env;
    if (changed.includes("ports")) body.ports = news.ports;
    if (changed.includes("containerDiskGb")) body.disk = news.containerDiskGb;
    if (changed.includes("networkVolumeId") || changed.includes("volumeMountPath")) body.mounts = mountsOf(news);
    return podOutputs(await client.pods.update(id, body), news);
  },
  async remove(client, id) {
    await client.pods.delete(id);
  },
});

export class Pod extends pulumi.dynamic.Resource {
  public readonly name!: pulumi.Output<string>;
  public readonly image!: pulumi.Output<string>;
  /** Secret: the environment may carry keys. */
  public readonly env!: pulumi.Output<Record<string, string>>;
  public readonly ports!: pulumi.Output<string[]>;
  public readonly cpuFlavor!: pulumi.Output<string>;
  public readonly vcpuCount!: pulumi.Output<number>;
  public readonly dataCenterId!: pulumi.Output<string>;
  public readonly status!: pulumi.Output<string>;
  public readonly costPerHour!: pulumi.Output<number>;
  /** Port → https://{podId}-{port}.proxy.runpod.net for each "PORT/http". */
  public readonly httpUrls!: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: PodArgs, opts: pulumi.CustomResourceOptions = {}) {
    const secretEnv = { additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "env"] };
    super(
      podProvider,
      name,
      { ...args, dataCenterId: undefined, status: undefined, costPerHour: undefined, httpUrls: undefined },
      { ...opts, ...secretEnv },
      "runpod",
      "Pod",
    );
  }
}
