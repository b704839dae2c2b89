import assert from "node:assert/strict";
import { join } from "node:path";
import { parseResult } from "../mod.ts";
import { chipsWithoutWall, CLI_ENV, lifcal, listFiles, logTime, MAIN, readJson } from "./_cli.ts";

const FLAGS = ["--seeds", "1-3", "--no-refine", "--backend", "cpu"];
const CHIPS = ["sim-1", "sim-2", "sim-3"];

async function _results(out: string): Promise<Record<string, string>> {
  const r: Record<string, string> = {};
  for (const id of CHIPS) r[id] = await Deno.readTextFile(join(out, "chips", `${id}.json`));
  return r;
}

async function _waitFor(path: string, child: Deno.ChildProcess, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() - t0 < timeoutMs) {
    try {
      await Deno.stat(path);
      return;
    } catch {
      if (exited) throw new Error(`the run ended before ${path} appeared`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${path} did not appear within ${timeoutMs} ms`);
}

Deno.test("lifcal calibrate: resume after SIGKILL and sharding + merge give an uninterrupted run's per-chip results", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "lifcal-resume-" });
  try {
    // The reference: one uninterrupted run, all three chips in one batch.
    const ref = join(dir, "ref");
    const refRun = await lifcal([
      "calibrate",
      ...FLAGS,
      "--batch-size",
      "3",
      "--quiet",
      "--out",
      ref,
    ]);
    logTime("reference, 3 chips in one batch", refRun);
    assert.ok(refRun.code === 0 || refRun.code === 1, refRun.stderr);
    const refResults = await _results(ref);
    const refSummary = await readJson<{ chips: { wall_s: number }[] }>(join(ref, "summary.json"));

    await t.step("a run killed mid-batch resumes with the finished chips skipped", async () => {
      const out = join(dir, "killed");
      const t0 = performance.now();
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "calibrate", ...FLAGS, "--batch-size", "1", "--out", out],
        env: CLI_ENV,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      await _waitFor(join(out, "chips", "sim-1.json"), child, 120_000);
      child.kill("SIGKILL");
      const status = await child.status;
      console.log(`  killed after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      assert.equal(status.signal, "SIGKILL");
      const before = await listFiles(out);
      assert.ok(before.includes("chips/sim-1.json") && before.includes("chips/sim-1.run.json"));
      assert.ok(!before.includes("chips/sim-3.json"), before.join(", "));
      assert.ok(!before.includes("summary.json"));
      const sim1 = await Deno.stat(join(out, "chips", "sim-1.json"));
      // A corrupt result (which atomic writes never leave; a disk might) is recomputed, not trusted.
      await Deno.writeTextFile(join(out, "chips", "sim-2.json"), '{"kind": "neuron", "form');
      await Deno.writeTextFile(join(out, "chips", "sim-2.run.json"), "{}");

      const resumed = await lifcal([
        "calibrate",
        ...FLAGS,
        "--batch-size",
        "1",
        "--resume",
        "--out",
        out,
      ]);
      logTime("resume, 2 or fewer chips left", resumed);
      assert.equal(resumed.code, refRun.code, resumed.stderr);
      assert.match(resumed.stderr, /sim-1 skipped \(1\/3\)/);
      assert.match(resumed.stderr, /sim-3 calibrated \(3\/3\)/);
      assert.doesNotMatch(resumed.stderr, /sim-1 calibrated/);
      assert.match(resumed.stderr, /sim-2: recomputed \(.*\)/);
      // The finished chip was not rewritten.
      assert.equal(
        (await Deno.stat(join(out, "chips", "sim-1.json"))).mtime?.getTime(),
        sim1.mtime?.getTime(),
      );
      // No partial or corrupt file anywhere.
      const files = await listFiles(out);
      assert.deepEqual(files, [
        "chips/sim-1.json",
        "chips/sim-1.run.json",
        "chips/sim-2.json",
        "chips/sim-2.run.json",
        "chips/sim-3.json",
        "chips/sim-3.run.json",
        "report.html",
        "report.md",
        "summary.json",
      ]);
      for (const id of CHIPS) {
        parseResult(await Deno.readTextFile(join(out, "chips", `${id}.json`)));
      }
      assert.deepEqual(await _results(out), refResults);
      const summary = await readJson<{ chips: { wall_s: number }[] }>(join(out, "summary.json"));
      assert.deepEqual(chipsWithoutWall(summary), chipsWithoutWall(refSummary));
    });

    await t.step(
      "shards 0/3, 1/3, 2/3 into one folder, then merge, equal the unsharded run",
      async () => {
        const out = join(dir, "shared");
        const t0 = performance.now();
        const shards = await Promise.all(
          [0, 1, 2].map((i) =>
            lifcal(["calibrate", ...FLAGS, "--shard", `${i}/3`, "--quiet", "--out", out])
          ),
        );
        console.log(`  3 shards in parallel: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        for (const s of shards) {
          assert.ok(s.code === 0 || s.code === 1, s.stderr);
        }
        const files = await listFiles(out);
        assert.deepEqual(files.filter((f) => f.startsWith("summary")), [
          "summary.shard-0-of-3.json",
          "summary.shard-1-of-3.json",
          "summary.shard-2-of-3.json",
        ]);
        assert.ok(!files.includes("report.html"));
        const shard1 = await readJson<{ chips: { id: string }[]; shard: unknown }>(
          join(out, "summary.shard-1-of-3.json"),
        );
        assert.deepEqual(shard1.chips.map((c) => c.id), ["sim-2"]);
        assert.deepEqual(shard1.shard, { index: 1, count: 3 });

        const merged = await lifcal(["merge", out, "--json"]);
        logTime("merge", merged);
        assert.equal(merged.code, 0, merged.stderr);
        const summary = await readJson<{ chips: { wall_s: number }[] }>(join(out, "summary.json"));
        assert.deepEqual(JSON.parse(merged.stdout), summary);
        assert.deepEqual(chipsWithoutWall(summary), chipsWithoutWall(refSummary));
        assert.deepEqual(await _results(out), refResults);
        assert.ok((await listFiles(out)).includes("report.html"));
      },
    );

    await t.step(
      "merge refuses missing, duplicated and inconsistent shards, naming the chips",
      async () => {
        const shared = join(dir, "shared");
        const copy = async (to: string, shards: number[]) => {
          await Deno.mkdir(join(to, "chips"), { recursive: true });
          for (const i of shards) {
            const name = `summary.shard-${i}-of-3.json`;
            await Deno.copyFile(join(shared, name), join(to, name));
            const id = CHIPS[i]!;
            for (const f of [`${id}.json`, `${id}.run.json`]) {
              await Deno.copyFile(join(shared, "chips", f), join(to, "chips", f));
            }
          }
        };
        const missing = join(dir, "missing");
        await copy(missing, [0, 2]);
        const m = await lifcal(["merge", missing]);
        assert.equal(m.code, 1, m.stderr);
        assert.match(m.stderr, /shard 1\/3 is missing: chips sim-2/);
        assert.ok(!(await listFiles(missing)).includes("summary.json"));

        const other = join(dir, "other");
        await copy(other, [1]);
        const d = await lifcal(["merge", shared, other, "--out", join(dir, "merged")]);
        assert.equal(d.code, 1, d.stderr);
        assert.match(d.stderr, /shard 1\/3 is duplicated .*: chips sim-2/);

        const odd = join(dir, "odd");
        await copy(odd, [0, 1, 2]);
        const file = join(odd, "summary.shard-2-of-3.json");
        const doc = await readJson<{ lifcal_version: string; target: { leak: number } }>(file);
        doc.target.leak = 90;
        await Deno.writeTextFile(file, JSON.stringify(doc));
        const i = await lifcal(["merge", odd]);
        assert.equal(i.code, 1, i.stderr);
        assert.match(i.stderr, /different targets: .*sim-3 with/);
        doc.target.leak = 80;
        doc.lifcal_version = "9.9.9";
        await Deno.writeTextFile(file, JSON.stringify(doc));
        const v = await lifcal(["merge", odd]);
        assert.equal(v.code, 1, v.stderr);
        assert.match(v.stderr, /different lifcal versions: .*sim-3 by 9\.9\.9/);
        for (const r of [m, d, i, v]) assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.equal(await lifcal(["merge", shared, other]).then((r) => r.code), 2);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lifcal calibrate --shard auto --shard-count: a re-submitted Slurm index keeps its shard", async () => {
  const out = await Deno.makeTempDir();
  try {
    // `sbatch --array=2` re-submits task 2 alone: Slurm says count 1, min 2.
    const env = {
      SLURM_ARRAY_TASK_ID: "2",
      SLURM_ARRAY_TASK_COUNT: "1",
      SLURM_ARRAY_TASK_MIN: "2",
    };
    const args = ["calibrate", "--chips", "3", "--backend", "cpu", "--no-refine", "--quiet"];
    const run = await lifcal([...args, "--shard", "auto", "--shard-count", "3", "--out", out], env);
    assert.equal(run.code, 0, run.stderr);
    const files = await listFiles(out);
    assert.ok(files.includes("summary.shard-2-of-3.json"), files.join(", "));
    assert.deepEqual(
      files.filter((f) =>
        f.startsWith("chips/") && f.endsWith(".json") &&
        !f.endsWith(".run.json")
      ),
      ["chips/sim-3.json"],
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
