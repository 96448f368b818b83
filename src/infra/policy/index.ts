// The policy pack: `pulumi preview --policy-pack src/infra/policy` (through the Node.js language host) or
// `--policy-pack src/infra/policy/analyzer` (launched directly). The policies live in ./policies so unit tests
// can call them without a Pulumi engine.
import { PolicyPack } from "@pulumi/policy";
import { captureConfigureStack } from "./engine-config";
import { createPolicies } from "./policies";

captureConfigureStack();
new PolicyPack("metahuman-cost", { policies: createPolicies() });
