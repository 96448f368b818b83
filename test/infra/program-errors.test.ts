// The program's uncaught errors reach Pulumi's handlers with stacks Node can colour in milliseconds (see
// src/infra/program-errors.ts): a preview that fails the preflight reports as fast as a passing one.
import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { repairStack, repairUncaughtErrorStacks, stackWithPackageFolders } from "../../src/infra/program-errors";

// A preflight failure's stack as the program threw it (Pulumi's source map names `../output.ts`).
const STACK = [
  "PreflightError: Preflight failed",
  "    at /repo/src/index.ts:49:11",
  "    at processTicksAndRejections (node:internal/process/task_queues:103:5)",
  "    at async applyHelperAsync (/repo/node_modules/@pulumi/output.ts:519:25)",
  "    at Object.<anonymous> (C:\\repo\\node_modules\\@pulumi\\resource.ts:10:2)",
  "    at other (/repo/node_modules/@pulumi/pulumi/runtime/rpc.js:1:1)",
  "    at more (/repo/node_modules/@scope/pkg/index.js:2:3)",
].join("\n");

describe("stackWithPackageFolders", () => {
  it("moves frames in node_modules/@pulumi/<file> under @pulumi/pulumi and leaves every other line as it was", () => {
    const lines = stackWithPackageFolders(STACK).split("\n");
    expect(lines[3]).toBe("    at async applyHelperAsync (/repo/node_modules/@pulumi/pulumi/output.ts:519:25)");
    expect(lines[4]).toBe("    at Object.<anonymous> (C:\\repo\\node_modules\\@pulumi\\pulumi\\resource.ts:10:2)");
    expect([lines[0], lines[1], lines[2], lines[5], lines[6]]).toEqual([0, 1, 2, 5, 6].map((i) => STACK.split("\n")[i]));
    expect(stackWithPackageFolders(stackWithPackageFolders(STACK))).toBe(stackWithPackageFolders(STACK));
  });

  it("gives a stack that util.inspect colours at once, as Pulumi's handler does", () => {
    const error = new Error("Preflight failed");
    error.stack = STACK;
    repairStack(error);
    const started = Date.now();
    const text = inspect(error, { colors: true });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(text).toContain("Preflight failed");
    expect(text).toContain("output.ts:519:25");
  });
});

describe("repairStack and repairUncaughtErrorStacks", () => {
  it("ignores what is not an error with a string stack, and a frozen error", () => {
    for (const value of [undefined, null, "text", 42, { stack: 1 }]) expect(() => repairStack(value)).not.toThrow();
    const frozen = Object.freeze(Object.assign(new Error("x"), { stack: STACK }));
    expect(() => repairStack(frozen)).not.toThrow();
  });

  it("runs before the handlers that were there first, for exceptions and rejections alike", () => {
    const emitter = new EventEmitter();
    const seen: string[] = [];
    for (const event of ["uncaughtException", "unhandledRejection"]) {
      emitter.on(event, (err: Error) => { seen.push(err.stack!.split("\n")[3]!); });
    }
    repairUncaughtErrorStacks(emitter as unknown as NodeJS.Process);
    for (const event of ["uncaughtException", "unhandledRejection"] as const) {
      const error = new Error("x");
      error.stack = STACK;
      emitter.emit(event, error);
    }
    expect(seen).toEqual(Array(2).fill("    at async applyHelperAsync (/repo/node_modules/@pulumi/pulumi/output.ts:519:25)"));
  });
});
