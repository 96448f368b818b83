// What every REST v2 resource plugin gets: the state, the billing ledger, the spec's body check, and
// RunPod's problem+json answer.
import type { FastifyReply } from "fastify";
import type { BillingLedger } from "../billing";
import type { RestState } from "../rest-state";
import type { RequestSchemaName } from "../rest-validation";

export interface RestV2Context {
  state: RestState;
  billing: BillingLedger;
  /** The spec's schema check of a request body: answers 422 and returns false when the body fails it. */
  validBody(reply: FastifyReply, name: RequestSchemaName, body: unknown): boolean;
}

/** Route generics of `/.../{id}` operations. */
export type ById = { Params: { id: string } };

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  422: "Unprocessable Entity",
  500: "Internal Server Error",
  501: "Not Implemented",
};

/** RFC 9457 problem+json, as RunPod answers every error. */
export function problem(reply: FastifyReply, status: number, detail: string, errors?: string[]): FastifyReply {
  return reply
    .code(status)
    .type("application/problem+json")
    .send({ title: TITLES[status] ?? "Error", status, detail, ...(errors && errors.length ? { errors } : {}) });
}

/** The container config that endpoints and pods share in REST v2 (ContainerConfig in the spec). */
export interface ContainerConfigBody {
  name?: string;
  templateId?: string;
  image?: string;
  args?: string;
  disk?: number;
  ports?: string[];
  env?: Record<string, string>;
  registry?: string | null;
}
