// NetworkVolume: a RunPod network volume (persistent storage in one data center) as a Pulumi
// dynamic resource on the REST v2 client. `dataCenter` and `type` are immutable (a change replaces
// the volume, and with it the data: protect it); `size` only grows (a shrink fails the preview).
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { VOLUME_TYPES } from "../schemas";
import { defineResourceProvider } from "./provider-factory";

export interface NetworkVolumeArgs {
  /** Human-readable name (RunPod does not require it to be unique). */
  readonly name: pulumi.Input<string>;
  /** Size in GB, 10–4096; can grow in place, never shrink. */
  readonly size: pulumi.Input<number>;
  /** Data center id, e.g. EU-RO-1; immutable. */
  readonly dataCenter: pulumi.Input<string>;
  /** Storage tier; immutable. Absent: the data center's default tier. */
  readonly type?: pulumi.Input<(typeof VOLUME_TYPES)[number]>;
}

export interface NetworkVolumeInputs {
  name: string;
  size: number;
  dataCenter: string;
  type?: (typeof VOLUME_TYPES)[number];
}

export interface NetworkVolumeOutputs {
  name: string;
  size: number;
  dataCenter: string;
  type: (typeof VOLUME_TYPES)[number];
}

export function networkVolumeInputSchema() {
  return z
    .object({
      name: z.string({ required_error: "required: a non-empty name" }).min(1, "allowed: a non-empty name"),
      size: z
        .number({ required_error: "required: an integer number of GB from 10 to 4096" })
        .int("allowed: an integer number of GB from 10 to 4096")
        .min(10, "allowed: an integer number of GB from 10 to 4096")
        .max(4096, "allowed: an integer number of GB from 10 to 4096"),
      dataCenter: z.string({ required_error: "required: a data center id such as EU-RO-1" }).min(1, "allowed: a data center id such as EU-RO-1"),
      type: z.enum(VOLUME_TYPES, { errorMap: () => ({ message: `allowed: ${VOLUME_TYPES.join(" or ")}` }) }).optional(),
    })
    .strict("allowed inputs: name, size, dataCenter, type");
}

function outputsOf(volume: { name: string; size: number; dataCenter: string; type: NetworkVolumeOutputs["type"] }): NetworkVolumeOutputs {
  return { name: volume.name, size: volume.size, dataCenter: volume.dataCenter, type: volume.type };
}

export const networkVolumeProvider = defineResourceProvider<NetworkVolumeInputs, NetworkVolumeOutputs>({
  kind: "NetworkVolume",
  inputSchema: networkVolumeInputSchema,
  immutable: ["dataCenter"],
  updatable: ["name", "size"],
  diffRules(olds, news) {
    if (typeof news.size === "number" && news.size < olds.size) {
      throw new Error(
        `NetworkVolume input size: got ${news.size}; allowed: ${olds.size} GB or more (the volume has ${olds.size} GB and RunPod volumes only grow)`,
      );
    }
    // An absent type means "the data center's default": only an explicit, different tier replaces.
    return news.type !== undefined && news.type !== olds.type ? ["type"] : [];
  },
  async create(client, inputs) {
    const volume = await client.networkVolumes.create({
      name: inputs.name,
      size: inputs.size,
      dataCenter: inputs.dataCenter,
      ...(inputs.type ? { type: inputs.type } : {}),
    });
    return { id: volume.id, outs: outputsOf(volume) };
  },
  async read(client, id) {
    return outputsOf(await client.networkVolumes.get(id));
  },
  async update(client, id, news, changed) {
    const body: { name?: string; size?: number } = {};
    if (changed.includes("name")) body.name = news.name;
    if (changed.includes("size")) body.size = news.size;
    return outputsOf(await client.networkVolumes.update(id, body));
  },
  async remove(client, id) {
    await client.networkVolumes.delete(id);
  },
});

export class NetworkVolume extends pulumi.dynamic.Resource {
  public readonly name!: pulumi.Output<string>;
  public readonly size!: pulumi.Output<number>;
  public readonly dataCenter!: pulumi.Output<string>;
  public readonly type!: pulumi.Output<(typeof VOLUME_TYPES)[number]>;

  constructor(name: string, args: NetworkVolumeArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(networkVolumeProvider, name, { ...args, type: args.type }, opts, "runpod", "NetworkVolume");
  }
}
