// REST v2 of the local RunPod (api.runpod.io/v2), one Fastify plugin per resource under rest-v2/:
// network volumes, serverless endpoints, pods, the catalog, billing; every other operation of RunPod's
// spec answers 501, and a method a path does not declare 405 (rest-v2/spec-routes.ts). State in memory,
// answers as the spec says: 201/200/204, problem+json 400 (a query against the spec's parameters, or a body
// against the API's rules), 401 (missing or wrong key, checked before anything else), 404, 422 (a body
// against the spec's schema, additionalProperties false included).
// Registered first: it installs the global fault-injection hooks that every later route inherits, and
// decorates the app with `runpodRest` (the state) and `billing` (the ledger other areas report into).
import type { FastifyInstance, FastifyReply } from "fastify";
import type { BillingLedger } from "./billing";
import { installFaults } from "./faults";
import { RestState } from "./rest-state";
import { createBodyValidators, createQueryValidators, type RequestSchemaName } from "./rest-validation";
import { billingRoutesPlugin } from "./rest-v2/billing";
import { catalogPlugin } from "./rest-v2/catalog";
import { problem, type RestV2Context } from "./rest-v2/context";
import { endpointsPlugin } from "./rest-v2/endpoints";
import { networkVolumesPlugin } from "./rest-v2/network-volumes";
import { podsPlugin } from "./rest-v2/pods";
import { addSpecRoutes } from "./rest-v2/spec-routes";

export interface RestV2Options {
  apiKey: string;
  /** The billing ledger: pods and volumes report into it, /v2/billing/* reads it. */
  ledger: BillingLedger;
}

declare module "fastify" {
  interface FastifyInstance {
    runpodRest: RestState;
    /** The emulator's billing ledger: report pods, volumes and worker seconds into it. */
    billing: BillingLedger;
  }
}

async function restV2Plugin(app: FastifyInstance, options: RestV2Options): Promise<void> {
  const state = new RestState();
  app.decorate("runpodRest", state);
  app.decorate("billing", options.ledger);
  installFaults(app, options.apiKey);
  app.get("/_emulator/state", async () => state.snapshot());
  app.setNotFoundHandler((request, reply) => problem(reply, 404, `no route ${request.method} ${request.url.split("?")[0]}`));

  const bodyValidators = createBodyValidators();
  const queryValidators = createQueryValidators();
  const context: RestV2Context = {
    state,
    billing: options.ledger,
    validBody(reply: FastifyReply, name: RequestSchemaName, body: unknown): boolean {
      const errors = bodyValidators[name](body);
      if (errors.length === 0) return true;
      void problem(reply, 422, "Request validation failed.", errors);
      return false;
    },
  };

  // Everything below is encapsulated: the auth hook, query check and error handler apply to REST v2 routes only.
  await app.register(async (api) => {
    refuseProtoKeysByName(api);
    api.addHook("onRequest", async (request, reply) => {
      const header = request.headers.authorization;
      if (header === undefined || !header.startsWith("Bearer ")) return problem(reply, 401, "missing bearer token");
      if (header.slice("Bearer ".length) !== options.apiKey) return problem(reply, 401, "invalid bearer token");
    });
    // The query string against the operation's parameters in the spec, typed (integers, booleans, lists) on success.
    api.addHook("preValidation", async (request, reply) => {
      const template = request.routeOptions.url?.replace(/:([A-Za-z]+)/g, "{$1}");
      const validate = queryValidators.get(`${request.method} ${template}`);
      if (validate === undefined) return;
      const { query, errors } = validate({ ...(request.query as Record<string, unknown>) });
      if (errors.length > 0) return problem(reply, 400, `invalid query: ${errors.join("; ")}`, errors);
      request.query = query;
    });
    api.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
      const status = error.statusCode ?? 500;
      if (status >= 500) return problem(reply, 500, "internal error");
      return problem(reply, status === 415 ? 400 : status, error.message);
    });

    await api.register(networkVolumesPlugin, context);
    await api.register(endpointsPlugin, context);
    await api.register(podsPlugin, context);
    await api.register(catalogPlugin, context);
    await api.register(billingRoutesPlugin, context);
    addSpecRoutes(api);
  });
}
/**
 * Fastify's JSON parser refuses a `__proto__` key (prototype poisoning) as "Body is not valid JSON", which sends a
 * user hunting for a syntax error. Here such a body (a pod's `env: {"__proto__": ...}`) is refused naming the key
 * and where it is; anything else goes to Fastify's parser as before.
 */
function refuseProtoKeysByName(api: FastifyInstance): void {
  const parseJson = api.getDefaultJsonParser("error", "error");
  api.removeContentTypeParser("application/json");
  api.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    let value: unknown;
    try {
      value = JSON.parse(body as string);
    } catch {
      parseJson(request, body as string, done);
      return;
    }
    const at = protoKeyPath(value);
    if (at === undefined) {
      parseJson(request, body as string, done);
      return;
    }
    done(Object.assign(new Error(`${at}: the key "__proto__" is not allowed; it names an object's prototype in JavaScript, so the emulator cannot keep it as data; rename it`), { statusCode: 400 }), undefined);
  });
}

/** Where the first own `__proto__` key is (`body.env.__proto__`), without recursion; undefined when none. */
function protoKeyPath(value: unknown): string | undefined {
  const pending: Array<[unknown, string]> = [[value, "body"]];
  while (pending.length > 0) {
    const [item, path] = pending.pop()!;
    if (item === null || typeof item !== "object") continue;
    for (const [key, child] of Object.entries(item as Record<string, unknown>)) {
      const childPath = Array.isArray(item) ? `${path}[${key}]` : `${path}.${key}`;
      if (!Array.isArray(item) && key === "__proto__") return childPath;
      pending.push([child, childPath]);
    }
  }
  return undefined;
}

// The decorations, the fault hooks and the not-found handler must reach the whole app (what fastify-plugin does).
Object.assign(restV2Plugin, { [Symbol.for("skip-override")]: true });

export { restV2Plugin };
