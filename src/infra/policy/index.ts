// The policy pack: `pulumi preview --policy-pack src/infra/policy`. The policies live in ./policies so
// unit tests can call them without a Pulumi engine.
import { PolicyPack } from "@pulumi/policy";
import { createPolicies } from "./policies";

new PolicyPack("metahuman-cost", { policies: createPolicies() });
