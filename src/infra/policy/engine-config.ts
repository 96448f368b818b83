// The stack's config as the engine sends it to a policy pack in the ConfigureStack RPC.
// Why this exists: run through the Node.js language host, a policy pack finds the config in PULUMI_CONFIG;
// launched directly as an executable analyzer (`--policy-pack src/infra/policy/analyzer`, what works with the
// language host built here) it does not, and @pulumi/policy 1.21 reads only the tags of ConfigureStack.
// So the pack wraps that one RPC handler to keep the config map too.
import * as grpc from "@grpc/grpc-js";

let captured: Record<string, string> | undefined;

/** The config from ConfigureStack, once the engine has sent it. */
export function configFromEngine(): Record<string, string> | undefined {
  return captured;
}

interface ConfigureStackCall {
  request: { getConfigMap?: () => { forEach(fn: (value: string, key: string) => void): void } };
}

/** Call before `new PolicyPack(...)`: wraps `configureStack` of the analyzer service the pack registers. */
export function captureConfigureStack(): void {
  const addService = grpc.Server.prototype.addService;
  grpc.Server.prototype.addService = function (service, implementation) {
    const original = (implementation as Record<string, unknown>).configureStack;
    if (typeof original === "function") {
      (implementation as Record<string, unknown>).configureStack = (call: ConfigureStackCall, callback: unknown) => {
        const config: Record<string, string> = {};
        call.request.getConfigMap?.().forEach((value, key) => { config[key] = value; });
        captured = config;
        return (original as (c: unknown, cb: unknown) => unknown)(call, callback);
      };
    }
    return addService.call(this, service, implementation);
  };
}
