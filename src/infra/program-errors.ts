// Keeps a failing `pulumi preview`/`up` as fast as a passing one.
//
// Pulumi's Node.js runtime reports an error the program throws (or an Output that rejects, as the preflight's
// does) with `util.inspect(err, { colors: true })`, for its message and again for its tracing span. The SDK's
// source maps name its own TypeScript sources one folder too high (`@pulumi/pulumi/output.js.map` says
// `../output.ts`), so a stack that passes through an `apply` has a frame in `…/node_modules/@pulumi/output.ts`: a
// scoped folder with no package folder under it. On such a line Node's colouring of node_modules paths
// (`markNodeModules` in lib/internal/util/inspect.js, Node 20 and 22 alike) never advances: it appends the line to
// itself until V8 refuses the string (RangeError: Invalid string length) after about 4 GB and 20-30 s of garbage
// collection, each time; Pulumi then falls back to an uncoloured inspect. Two such inspects made a preview that
// fails the preflight take a minute where a passing one takes ten seconds.
//
// The fix here: before Pulumi's handlers see an uncaught error, its stack's frames under `node_modules/@pulumi/<file>`
// name the file where that source belongs, `node_modules/@pulumi/pulumi/<file>`. Nothing else about the error changes.

/** The stack with each `node_modules/@pulumi/<file>` frame moved under its package folder, `@pulumi/pulumi/<file>`. */
export function stackWithPackageFolders(stack: string): string {
  return stack.replace(/([/\\]node_modules[/\\]@pulumi)([/\\])(?=[^/\\\s()]+:\d+(?::\d+)?\)?$)/gm, "$1$2pulumi$2");
}

/** Rewrites an uncaught error's stack (see above) in place; anything else passes untouched. */
export function repairStack(error: unknown): void {
  if (typeof error !== "object" || error === null) return;
  const stack = (error as { stack?: unknown }).stack;
  if (typeof stack !== "string") return;
  const repaired = stackWithPackageFolders(stack);
  if (repaired === stack) return;
  try {
    (error as { stack: string }).stack = repaired;
  } catch {
    // A frozen error keeps its stack: Pulumi's own fallback still reports it, only slowly.
  }
}

let installed = false;

/**
 * Runs `repairStack` on every uncaught exception and unhandled rejection before Pulumi's own handlers (which the
 * runtime installed before the program loaded) report it. Call once, from the program's entry point.
 */
export function repairUncaughtErrorStacks(proc: NodeJS.Process = process): void {
  if (installed && proc === process) return;
  if (proc === process) installed = true;
  proc.prependListener("uncaughtException", repairStack);
  proc.prependListener("unhandledRejection", repairStack);
}
