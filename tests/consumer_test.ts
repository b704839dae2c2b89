/**
 * lifcal used from somewhere else: temporary consumer projects — one with a
 * `deno.json` of its own whose import map sends `zod`, `commander` and
 * `picocolors` to modules that throw, one with no `deno.json` at all —
 * import `mod.ts` by path, by `file://` URL and over HTTP from a static
 * server this test starts on 127.0.0.1, and calibrate a twin through each;
 * `deno install -g` installs the CLI as the README says (into a temporary
 * root) and the installed `lifcal` calibrates; `cli/main.ts` runs by URL.
 *
 * The subprocesses share this process's `DENO_DIR`, so the npm packages
 * come from its cache.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = fileURLToPath(new URL("../", import.meta.url));

/** What a subprocess gave. */
interface _Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs a command to completion with this process's `deno` first on the PATH. */
async function _run(command: string, args: readonly string[], cwd: string): Promise<_Run> {
  const t0 = performance.now();
  const out = await new Deno.Command(command, {
    args: [...args],
    cwd,
    env: {
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
      PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`,
      SLURM_ARRAY_TASK_ID: "",
      SLURM_ARRAY_TASK_COUNT: "",
      JOB_COMPLETION_INDEX: "",
      LIFCAL_SHARD_COUNT: "",
    },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  const run = {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    seconds: (performance.now() - t0) / 1000,
  };
  console.log(`  ${[command.split(sep).at(-1), ...args].join(" ")}: ${run.seconds.toFixed(1)} s`);
  return run;
}

/** `deno ...args` in `cwd`; fails the test, showing stderr, unless it exits 0. */
async function _deno(args: readonly string[], cwd: string): Promise<_Run> {
  const run = await _run(Deno.execPath(), args, cwd);
  assert.equal(run.code, 0, `deno ${args.join(" ")} exited ${run.code}:\n${run.stderr}`);
  return run;
}

const _TYPES: Record<string, string> = {
  ".ts": "application/typescript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wgsl": "text/plain; charset=utf-8",
};

/**
 * Serves the repository's files read-only on 127.0.0.1 under a fresh path
 * prefix (so a module cached by an earlier run is never taken for this one).
 */
function _serveRepo(): { base: string; shutdown: () => Promise<void> } {
  const prefix = `/lifcal-${crypto.randomUUID()}/`;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    const type = _TYPES[path.slice(path.lastIndexOf("."))];
    const file = normalize(join(REPO, path.slice(prefix.length)));
    if (!path.startsWith(prefix) || !file.startsWith(REPO) || type === undefined) {
      return new Response("not found", { status: 404 });
    }
    try {
      return new Response(await Deno.readFile(file), { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}${prefix}`,
    shutdown: () => server.shutdown(),
  };
}

/** What a consumer's `main.ts` prints. */
interface _Report {
  readonly version: string;
  readonly chips: string[];
  readonly how: "calibrate" | "calibrateCadc";
  readonly calibrated: number;
  readonly median: number;
  readonly roundTrip: boolean;
  readonly kernel?: number;
  readonly webgpu?: string;
}

/**
 * A consumer's `main.ts`: opens one CPU twin through lifcal's `mod.ts` at
 * `lifcal` (a specifier as the consumer writes it), runs a full `calibrate`
 * or `calibrateCadc`, round-trips the result through its JSON and prints a
 * report. With `kernels`, it also reads a WGSL kernel from where lifcal came
 * from and, where a WebGPU adapter exists, measures a twin with the kernels.
 */
function _consumerMain(lifcal: string, full: boolean, kernels: boolean): string {
  const base = lifcal.slice(0, lifcal.length - "mod.ts".length);
  return `import {
  calibrate,
  calibrateCadc,
  openBackend,
  parseResult,
  resultToJson,
  VERSION,
} from ${JSON.stringify(lifcal)};
${kernels ? `import { wgslSource } from "${base}backends/webgpu/wgsl_source.ts";` : ""}

const median = (xs: readonly (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v[v.length >> 1]!;
};
const backend = await openBackend({ backend: "cpu", chips: 1 });
const report: Record<string, unknown> = { version: VERSION, chips: backend.chips.map((c) => c.id) };
if (${full}) {
  const [result] = await calibrate(backend, { leak: 90 });
  report.how = "calibrate";
  report.calibrated = result!.success.filter((s) => s).length;
  report.median = median(result!.verification.leak);
  report.roundTrip = JSON.stringify(parseResult(resultToJson(result!))) === JSON.stringify(result);
} else {
  const [result] = await calibrateCadc(backend);
  report.how = "calibrateCadc";
  report.calibrated = result!.success.filter((s) => s).length;
  report.median = median(result!.verification.quadrant_means);
  report.roundTrip = JSON.stringify(parseResult(resultToJson(result!))) === JSON.stringify(result);
}
await backend.close();
${
    kernels
      ? `report.kernel = (await wgslSource("measure")).length;
const adapter = await navigator.gpu?.requestAdapter();
if (adapter) {
  const gpu = await openBackend({ backend: "webgpu", chips: 1 });
  await gpu.write({ threshold_enable: 0 });
  report.webgpu = median([...(await gpu.measure({ kind: "resting-potential" }))]) > 0 ? "ok" : "bad";
  await gpu.close();
} else {
  report.webgpu = "no adapter";
}`
      : ""
  }
console.log(JSON.stringify(report));
`;
}

/** Writes `main.ts` into `dir`, runs it with `deno run -A`, and returns its report. */
async function _consume(
  dir: string,
  lifcal: string,
  options: { full?: boolean; kernels?: boolean } = {},
): Promise<_Report> {
  await Deno.writeTextFile(
    join(dir, "main.ts"),
    _consumerMain(lifcal, options.full ?? false, options.kernels ?? false),
  );
  const run = await _deno(["run", "-A", "main.ts"], dir);
  const report = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as _Report;
  console.log(`  ${JSON.stringify(report)}`);
  assert.equal(
    report.version,
    JSON.parse(await Deno.readTextFile(join(REPO, "deno.json"))).version,
  );
  assert.deepEqual(report.chips, ["sim-1"]);
  assert.equal(report.roundTrip, true);
  if (options.full) {
    assert.equal(report.how, "calibrate");
    assert.ok(report.calibrated > 0.95 * 512, `${report.calibrated} neurons calibrated`);
    assert.ok(Math.abs(report.median - 90) < 2, `median leak ${report.median}`);
  } else {
    assert.equal(report.how, "calibrateCadc");
    assert.ok(report.calibrated > 0.99 * 1024, `${report.calibrated} channels calibrated`);
    assert.ok(report.median > 100 && report.median < 140, `median reading ${report.median}`);
  }
  return report;
}

/** A temporary consumer project; with `config`, its own `deno.json` and the modules it maps to. */
async function _project(config: boolean): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "lifcal-consumer-" });
  if (config) {
    const trap = (name: string) =>
      `throw new Error("lifcal resolved ${name} through the consumer's import map");\n`;
    await Deno.writeTextFile(join(dir, "not_zod.ts"), trap("zod"));
    await Deno.writeTextFile(join(dir, "not_commander.ts"), trap("commander"));
    await Deno.writeTextFile(join(dir, "not_picocolors.ts"), trap("picocolors"));
    await Deno.writeTextFile(
      join(dir, "deno.json"),
      JSON.stringify(
        {
          imports: {
            "zod": "./not_zod.ts",
            "commander": "./not_commander.ts",
            "@commander-js/extra-typings": "./not_commander.ts",
            "picocolors": "./not_picocolors.ts",
            "@app/": "./src/",
          },
          compilerOptions: { strict: true },
        },
        null,
        2,
      ),
    );
  }
  return dir;
}

Deno.test("a project with its own deno.json imports lifcal by path, file URL and HTTP", async (t) => {
  const dir = await _project(true);
  const server = _serveRepo();
  try {
    await t.step("by relative path: a full calibration of one twin", async () => {
      let path = relative(dir, join(REPO, "mod.ts")).split(sep).join("/");
      if (!path.startsWith(".")) path = `./${path}`;
      await _consume(dir, path, { full: true });
    });
    await t.step(
      "by relative path, type-checked under the consumer's compiler options",
      async () => {
        await _deno(["check", "main.ts"], dir);
      },
    );
    await t.step("by file:// URL", async () => {
      await _consume(dir, pathToFileURL(join(REPO, "mod.ts")).href);
    });
    await t.step("over HTTP", async () => {
      await _consume(dir, `${server.base}mod.ts`);
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a project without deno.json imports lifcal by path, file URL and HTTP", async (t) => {
  const dir = await _project(false);
  const server = _serveRepo();
  try {
    await t.step("by absolute path", async () => {
      await _consume(dir, join(REPO, "mod.ts").split(sep).join("/"));
    });
    await t.step("by file:// URL", async () => {
      await _consume(dir, pathToFileURL(join(REPO, "mod.ts")).href);
    });
    await t.step(
      "over HTTP: a full calibration, and the WGSL kernels from the server",
      async () => {
        const report = await _consume(dir, `${server.base}mod.ts`, { full: true, kernels: true });
        const kernel = await Deno.readTextFile(join(REPO, "kernels", "measure.wgsl"));
        assert.equal(report.kernel, kernel.length);
        assert.ok(report.webgpu === "ok" || report.webgpu === "no adapter", report.webgpu);
      },
    );
    await t.step("cli/main.ts runs by URL", async () => {
      const run = await _deno(["run", "-A", `${server.base}cli/main.ts`, "--version"], dir);
      assert.match(run.stdout, /^\d+\.\d+\.\d+/);
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno install -g as the README writes it gives a working lifcal", async () => {
  const root = await Deno.makeTempDir({ prefix: "lifcal-install-" });
  try {
    // README: `deno install -g -A -n lifcal ./cli/main.ts`, here into a temporary root.
    await _deno(["install", "-g", "-A", "--root", root, "-n", "lifcal", "./cli/main.ts"], REPO);
    const bin = join(root, "bin", Deno.build.os === "windows" ? "lifcal.cmd" : "lifcal");
    const version = await _run(bin, ["--version"], root);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    const out = join(root, "out");
    const run = await _run(
      bin,
      ["calibrate", "--chips", "1", "--backend", "cpu", "--out", out, "--quiet"],
      root,
    );
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(await Deno.readTextFile(join(out, "summary.json")));
    assert.deepEqual(summary.chips.map((c: { id: string }) => c.id), ["sim-1"]);
    await Deno.stat(join(out, "chips", "sim-1.json"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
