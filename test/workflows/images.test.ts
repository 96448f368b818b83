// The images workflow and its callers: both Dockerfiles built by Docker's own actions with a layer cache, pushed to
// GHCR tagged with the commit, and the digests handed to `pulumi config set` before every preview and up.
import { readFileSync } from "node:fs";
import path from "node:path";
import * as yaml from "js-yaml";
import { describe, expect, it } from "vitest";

const WORKFLOWS = path.resolve(__dirname, "../../.github/workflows");
const load = (name: string) => yaml.load(readFileSync(path.join(WORKFLOWS, name), "utf8")) as any;

describe("images.yml", () => {
  const images = load("images.yml");
  const steps: any[] = images.jobs.build.steps;
  const uses = (prefix: string) => steps.filter((s) => String(s.uses ?? "").startsWith(prefix));

  it("builds both Dockerfiles with buildx and build-push-action, cached in GitHub's cache, tagged with the commit", () => {
    expect(uses("docker/setup-buildx-action@")).toHaveLength(1);
    const builds = uses("docker/build-push-action@");
    expect(builds.map((s) => s.with.file).sort()).toEqual(["docker/web.Dockerfile", "docker/worker.Dockerfile"]);
    for (const build of builds) {
      expect(build.with.tags).toMatch(/:\$\{\{ github\.sha \}\}$/);
      expect(build.with["cache-from"]).toMatch(/^type=gha/);
      expect(build.with["cache-to"]).toMatch(/^type=gha/);
      expect(build.with.push).toBe("${{ inputs.push }}");
    }
  });

  it("hands out the pushed images by digest", () => {
    expect(images.on.workflow_call.outputs["worker-image"].value).toBe("${{ jobs.build.outputs.worker-image }}");
    const refs = steps.find((s) => s.id === "refs");
    expect(refs.env.WORKER_DIGEST).toBe("${{ steps.worker.outputs.digest }}");
    expect(refs.run).toContain('echo "worker=${WORKER}@${WORKER_DIGEST}"');
  });
});

describe.each([["deploy.yml", "deploy"], ["pull-request.yml", "preview"]])("%s", (file, jobName) => {
  it(`runs images.yml first and pins its digests before ${jobName === "deploy" ? "pulumi up" : "pulumi preview"}`, () => {
    const workflow = load(file);
    expect(workflow.jobs.images.uses).toBe("./.github/workflows/images.yml");
    expect(workflow.jobs.images.permissions.packages).toBe("write");
    const job = workflow.jobs[jobName];
    expect(job.needs).toBe("images");
    const steps: any[] = job.steps;
    const pin = steps.findIndex((s) => String(s.run ?? "").includes('pulumi config set --stack prod metahuman:workerImage "$WORKER_IMAGE"'));
    const pulumi = steps.findIndex((s) => /pulumi (up|preview) /.test(String(s.run ?? "")));
    expect(pin).toBeGreaterThan(-1);
    expect(pin).toBeLessThan(pulumi);
    expect(steps[pin].env).toEqual({ WORKER_IMAGE: "${{ needs.images.outputs.worker-image }}", WEB_IMAGE: "${{ needs.images.outputs.web-image }}" });
  });
});
