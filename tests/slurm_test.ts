/**
 * `examples/slurm/calibrate_array.sh` on a real single-node Slurm (Debian's
 * `slurm-wlm` and `munge`, as `../shared/reference/slurm-local.md` runs
 * them): a private munged, slurmctld and slurmd on free ports with all their
 * state in a temporary folder. The array job of 6 chips in 3 shards plus its
 * merge job must equal an unsharded `lifcal calibrate`; a task killed mid-run
 * leaves `merge` refusing with its chips named, and re-submitting only that
 * array index (which resumes) merges into the same results.
 *
 * Slurm is installed with apt-get when missing. Without root the test can
 * neither install it nor start the daemons, and is ignored with a message —
 * except where `LIFCAL_CI` is set (`.ci/run`): there it fails instead.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { chipsWithoutWall, lifcal, listFiles, logTime, MAIN, readJson } from "./_cli.ts";

const SCRIPT = new URL("../examples/slurm/calibrate_array.sh", import.meta.url).pathname;
/** Deterministic and GPU-free; no refinement keeps a chip at about 3 s. */
const FLAGS = ["--backend", "cpu", "--no-refine"];
const CHIPS = ["sim-1", "sim-2", "sim-3", "sim-4", "sim-5", "sim-6"];
const IN_CI = (Deno.env.get("LIFCAL_CI") ?? "") !== "";
const TOOLS = ["sbatch", "squeue", "sinfo", "scontrol", "scancel", "slurmctld", "slurmd", "munged"];
/** How long one phase (submit → every job ended) may take, CI load included. */
const PHASE_TIMEOUT_MS = 180_000;

async function _which(name: string): Promise<string | undefined> {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/usr/bin", "/sbin"];
  for (const dir of dirs.filter((d) => d !== "")) {
    try {
      if ((await Deno.stat(join(dir, name))).isFile) return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

async function _missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const name of TOOLS) if (!(await _which(name))) missing.push(name);
  return missing;
}

const IS_ROOT = Deno.uid() === 0;
const MISSING_AT_LOAD = await _missingTools();
const SKIP = !IS_ROOT && !IN_CI;
/** Why the test cannot run here, or undefined. */
const CANNOT = IS_ROOT
  ? undefined
  : MISSING_AT_LOAD.length > 0
  ? `Slurm is not installed (missing: ${
    MISSING_AT_LOAD.join(", ")
  }) and without root it can be neither installed (apt-get install slurm-wlm munge) nor started`
  : "without root the Slurm daemons cannot be started (munged runs as the munge user)";
if (SKIP) console.warn(`slurm_test: ignored: ${CANNOT}; CI (LIFCAL_CI=1) runs it as root`);

/** Runs a command to completion; throws with its output unless it exits 0. */
async function _run(
  cmd: string,
  args: readonly string[],
  env?: Record<string, string>,
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args: [...args],
    stdin: "null",
    ...(env ? { env, clearEnv: true } : {}),
  }).output();
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${out.code}:\n${stdout}${dec.decode(out.stderr)}`,
    );
  }
  return stdout;
}

async function _installSlurm(): Promise<void> {
  const missing = await _missingTools();
  if (missing.length === 0) return;
  const env = { ...Deno.env.toObject(), DEBIAN_FRONTEND: "noninteractive" };
  const install = ["install", "-y", "-q", "slurm-wlm", "munge"];
  const t0 = performance.now();
  try {
    await _run("apt-get", install, env);
  } catch {
    await _run("apt-get", ["update", "-q"], env);
    await _run("apt-get", install, env);
  }
  console.log(
    `  apt-get install slurm-wlm munge: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const still = await _missingTools();
  assert.deepEqual(still, [], `still missing after apt-get: ${still.join(", ")}`);
}

/** A TCP port nothing listens on right now. */
function _freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function _sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function _quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

async function _tail(path: string, lines = 15): Promise<string> {
  try {
    return `${path}:\n${
      (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines).join("\n")
    }`;
  } catch {
    return `${path}: (none)`;
  }
}

/** The environment without the Slurm/Kubernetes variables of whoever runs the test. */
function _cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (/^(SLURM_|SBATCH_|SALLOC_|SRUN_)/.test(k)) continue;
    if (k === "JOB_COMPLETION_INDEX" || k === "LIFCAL_SHARD_COUNT") continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: "1" };
}

/** A private single-node Slurm: its files, and the environment its clients need. */
interface _Cluster {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly pidFiles: readonly string[];
  readonly logs: readonly string[];
}

/** Starts `exec "$@"` in the background-daemon way, its output appended to `log`. */
async function _daemon(log: string, cmd: readonly string[]): Promise<void> {
  // Through a file, not a pipe: a daemon keeps its stdio open, which would hold .output().
  await _run("bash", ["-c", 'log="$1"; shift; exec "$@" >>"$log" 2>&1', "_", log, ...cmd]);
}

async function _startCluster(dir: string, cleanup: _Cluster[]): Promise<_Cluster> {
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o755); // munged checks every folder above its socket
  const munge = join(dir, "munge");
  const slurm = join(dir, "slurm");
  await Deno.mkdir(munge, { mode: 0o755 });
  for (const sub of ["state", "spool", "log"]) {
    await Deno.mkdir(join(slurm, sub), { recursive: true });
  }
  const key = join(munge, "munge.key");
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o400 });
  await _run("chown", ["-R", "munge:munge", munge]);
  const socket = join(munge, "munge.socket");
  const node = Deno.hostname().split(".")[0]!;
  const ctldPort = _freePort();
  let slurmdPort = _freePort();
  while (slurmdPort === ctldPort) slurmdPort = _freePort();
  const conf = join(slurm, "slurm.conf");
  const cpus = navigator.hardwareConcurrency;
  await Deno.writeTextFile(
    conf,
    [
      "ClusterName=lifcaltest",
      `SlurmctldHost=${node}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "AccountingStorageType=accounting_storage/none",
      "JobCompType=jobcomp/none",
      "JobAcctGatherType=jobacct_gather/none",
      "MpiDefault=none",
      "SlurmUser=root",
      "SlurmdUser=root",
      "ReturnToService=2",
      "MinJobAge=900",
      `StateSaveLocation=${join(slurm, "state")}`,
      `SlurmdSpoolDir=${join(slurm, "spool")}`,
      `SlurmctldPidFile=${join(slurm, "slurmctld.pid")}`,
      `SlurmdPidFile=${join(slurm, "slurmd.pid")}`,
      `SlurmctldLogFile=${join(slurm, "log", "slurmctld.log")}`,
      `SlurmdLogFile=${join(slurm, "log", "slurmd.log")}`,
      `NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=2000 State=UNKNOWN`,
      "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
      "",
    ].join("\n"),
  );
  const cluster: _Cluster = {
    dir,
    env: { ..._cleanEnv(), SLURM_CONF: conf },
    // Stopped in this order: the compute daemon, the controller, munge.
    pidFiles: [
      join(slurm, "slurmd.pid"),
      join(slurm, "slurmctld.pid"),
      join(munge, "munged.pid"),
    ],
    logs: [
      join(munge, "munged.log"),
      join(slurm, "log", "slurmctld.log"),
      join(slurm, "log", "slurmd.log"),
      join(dir, "daemons.log"),
    ],
  };
  cleanup.push(cluster);
  const log = join(dir, "daemons.log");
  await _daemon(log, [
    (await _which("runuser")) ?? "runuser",
    "-u",
    "munge",
    "--",
    (await _which("munged"))!,
    `--socket=${socket}`,
    `--key-file=${key}`,
    `--pid-file=${join(munge, "munged.pid")}`,
    `--log-file=${join(munge, "munged.log")}`,
    `--seed-file=${join(munge, "munged.seed")}`,
  ]);
  await _daemon(log, [(await _which("slurmctld"))!, "-f", conf]);
  await _daemon(log, [(await _which("slurmd"))!, "-f", conf, "-N", node]);
  const t0 = Date.now();
  let state = "";
  while (Date.now() - t0 < 60_000) {
    try {
      state = (await _run("sinfo", ["-h", "-o", "%T"], cluster.env)).trim();
    } catch (e) {
      state = e instanceof Error ? e.message : String(e);
    }
    if (state === "idle") return cluster;
    await _sleep(250);
  }
  throw new Error(
    `the node is not idle after 60 s (sinfo: ${state})\n${
      (await Promise.all(cluster.logs.map((l) => _tail(l)))).join("\n")
    }`,
  );
}

/** The end of every daemon log, for a failure's report. */
async function _printLogs(clusters: readonly _Cluster[]): Promise<void> {
  for (const c of clusters) {
    console.error((await Promise.all(c.logs.map((l) => _tail(l)))).join("\n"));
  }
}

function _alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Cancels what is left of the jobs, then stops the daemons by their pid files. */
async function _stopCluster(c: _Cluster): Promise<void> {
  try {
    const ids = (await _run("squeue", ["-h", "-o", "%A"], c.env)).split(/\s+/).filter(Boolean);
    if (ids.length > 0) {
      await _run("scancel", [...new Set(ids)], c.env);
      const t0 = Date.now();
      while (Date.now() - t0 < 15_000) {
        if ((await _run("squeue", ["-h"], c.env)).trim() === "") break;
        await _sleep(250);
      }
    }
  } catch (e) {
    console.warn(`  could not cancel the jobs left: ${e instanceof Error ? e.message : e}`);
  }
  for (const file of c.pidFiles) {
    let pid: number;
    try {
      pid = Number((await Deno.readTextFile(file)).trim());
    } catch {
      continue; // never started
    }
    if (!(pid > 1) || !_alive(pid)) continue;
    Deno.kill(pid, "SIGTERM");
    const t0 = Date.now();
    while (_alive(pid) && Date.now() - t0 < 10_000) await _sleep(100);
    if (_alive(pid)) Deno.kill(pid, "SIGKILL");
  }
}

/** Submits through the example script; returns the job ids it printed. */
async function _submit(c: _Cluster, args: readonly string[]) {
  const submitted = performance.now();
  const stdout = await _run("bash", [SCRIPT, ...args], c.env);
  const array = /^array job: (\d+)/m.exec(stdout)?.[1];
  const merge = /^merge job: (\d+)/m.exec(stdout)?.[1];
  assert.ok(array && merge, stdout);
  return { array, merge, stdout, submitted };
}

/** Waits until the queue is empty (only this test's jobs run on the private cluster). */
async function _waitForQueue(c: _Cluster, what: string, t0: number): Promise<number> {
  let queue = "";
  while (performance.now() - t0 < PHASE_TIMEOUT_MS) {
    queue = (await _run("squeue", ["-h", "-o", "%i %T %r"], c.env)).trim();
    if (queue === "") {
      const s = (performance.now() - t0) / 1000;
      console.log(`  ${what}: every job ended ${s.toFixed(1)} s after the submission`);
      return s;
    }
    await _sleep(500);
  }
  throw new Error(`${what}: jobs still queued after ${PHASE_TIMEOUT_MS / 1000} s:\n${queue}`);
}

/** `JobState` and `ExitCode` of a job, or of each task of an array job by task id. */
async function _states(c: _Cluster, id: string): Promise<Record<string, string>> {
  const out = await _run("scontrol", ["show", "job", "-o", id], c.env);
  const states: Record<string, string> = {};
  for (const line of out.split("\n").filter((l) => l.trim() !== "")) {
    const task = /\bArrayTaskId=(\S+)/.exec(line)?.[1] ?? "job";
    const state = /\bJobState=(\S+)/.exec(line)?.[1];
    const code = /\bExitCode=(\S+)/.exec(line)?.[1];
    states[task] = `${state} ${code}`;
  }
  return states;
}

async function _results(out: string): Promise<Record<string, string>> {
  const r: Record<string, string> = {};
  for (const id of CHIPS) r[id] = await Deno.readTextFile(join(out, "chips", `${id}.json`));
  return r;
}

interface _Summary {
  lifcal_version: string;
  backend: unknown;
  target: unknown;
  chips: { wall_s: number }[];
  totals: { chips: number; neurons: number };
}

/** The parts of a summary that do not depend on timing. */
function _stable(s: _Summary): unknown {
  return {
    lifcal_version: s.lifcal_version,
    backend: s.backend,
    target: s.target,
    chips: chipsWithoutWall(s),
    totals: { chips: s.totals.chips, neurons: s.totals.neurons },
  };
}

Deno.test({
  name:
    "Slurm: calibrate_array.sh's array + merge jobs equal an unsharded run; a killed task is re-run alone and merges",
  ignore: SKIP,
  fn: async (t) => {
    if (CANNOT) throw new Error(`LIFCAL_CI is set, so this test must run, but ${CANNOT}`);
    const t0 = performance.now();
    const dir = await Deno.makeTempDir({ prefix: "lifcal-slurm-" });
    await Deno.chmod(dir, 0o755); // for munged, which runs as the munge user
    const clusters: _Cluster[] = [];
    const lifcalCmd = `${_quote(Deno.execPath())} run -A ${_quote(MAIN)}`;
    // The reference runs while Slurm is installed and started.
    const ref = join(dir, "ref");
    const refRun = lifcal(["calibrate", "--seeds", "1-6", ...FLAGS, "--quiet", "--out", ref]);
    try {
      await _installSlurm();
      const c = await _startCluster(join(dir, "cluster"), clusters);
      console.log(`  Slurm up after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      let refResults: Record<string, string> = {};
      let refSummary: _Summary | undefined;

      const steps: boolean[] = [];
      steps.push(
        await t.step("the array job (6 chips, 3 shards) and its merge job", async () => {
          const out = join(dir, "shared");
          const jobs = await _submit(c, [
            ...["--seeds", "1-6", "--shards", "3", "--out", out, "--lifcal", lifcalCmd, "--"],
            ...FLAGS,
          ]);
          assert.match(jobs.stdout, /tasks 0-2 of shards 0-2/);
          const r = await refRun;
          logTime("reference, 6 chips unsharded (beside the array job)", r);
          assert.equal(r.code, 0, r.stderr);
          refResults = await _results(ref);
          const summary = await readJson<_Summary>(join(ref, "summary.json"));
          refSummary = summary;
          await _waitForQueue(c, "array of 3 tasks + merge", jobs.submitted);
          assert.deepEqual(await _states(c, jobs.array), {
            "0": "COMPLETED 0:0",
            "1": "COMPLETED 0:0",
            "2": "COMPLETED 0:0",
          });
          assert.deepEqual(await _states(c, jobs.merge), { job: "COMPLETED 0:0" });
          const files = await listFiles(out);
          for (
            const f of [
              "summary.shard-0-of-3.json",
              "summary.shard-1-of-3.json",
              "summary.shard-2-of-3.json",
              "summary.json",
              "report.html",
              "report.md",
              `slurm-logs/calibrate-${jobs.array}_1.out`,
              `slurm-logs/merge-${jobs.merge}.out`,
            ]
          ) assert.ok(files.includes(f), `${f} not in ${files.join(", ")}`);
          const shard1 = await readJson<{ chips: { id: string }[]; shard: unknown }>(
            join(out, "summary.shard-1-of-3.json"),
          );
          assert.deepEqual(shard1.chips.map((x) => x.id), ["sim-3", "sim-4"]);
          assert.deepEqual(shard1.shard, { index: 1, count: 3 });
          const mergeLog = await Deno.readTextFile(join(out, `slurm-logs/merge-${jobs.merge}.out`));
          assert.match(mergeLog, /Merged 3 shards \(6 chips\)/);
          assert.deepEqual(await _results(out), refResults);
          assert.deepEqual(
            _stable(await readJson<_Summary>(join(out, "summary.json"))),
            _stable(summary),
          );
        }),
      );

      const reference = refSummary;
      assert.ok(reference, "no reference: the first step failed");
      steps.push(
        await t.step(
          "a task killed mid-shard: merge refuses naming its chips; re-submitting that index alone resumes and merges",
          async () => {
            const out = join(dir, "failed");
            // Task 1 is killed as soon as its first chip is written (as an OOM kill or a
            // node failure would); the other tasks and the merge job run lifcal itself.
            const wrapper = join(dir, "dying_lifcal.sh");
            await Deno.writeTextFile(
              wrapper,
              `#!/usr/bin/env bash
set -euo pipefail
if [ "\${SLURM_ARRAY_TASK_ID:-}" != 1 ]; then exec ${lifcalCmd} "$@"; fi
${lifcalCmd} "$@" --batch-size 1 &
pid=$!
for _ in $(seq 1200); do
  if [ -e ${_quote(join(out, "chips", "sim-3.json"))} ]; then break; fi
  sleep 0.1
done
kill -KILL "$pid"
echo "killed lifcal of task 1" >&2
exit 137
`,
            );
            const args = ["--seeds", "1-6", "--shards", "3", "--out", out];
            const failing = await _submit(c, [
              ...args,
              "--lifcal",
              `bash ${_quote(wrapper)}`,
              "--",
              ...FLAGS,
            ]);
            await _waitForQueue(c, "array with a killed task + merge", failing.submitted);
            assert.deepEqual(await _states(c, failing.array), {
              "0": "COMPLETED 0:0",
              "1": "FAILED 137:0",
              "2": "COMPLETED 0:0",
            });
            assert.deepEqual(await _states(c, failing.merge), { job: "FAILED 1:0" });
            const mergeLog = await Deno.readTextFile(
              join(out, `slurm-logs/merge-${failing.merge}.out`),
            );
            assert.match(mergeLog, /shard 1\/3 is missing: chips sim-3, sim-4/);
            const files = await listFiles(out);
            assert.ok(files.includes("chips/sim-3.json"), files.join(", "));
            assert.ok(!files.includes("chips/sim-4.json"), files.join(", "));
            assert.ok(!files.includes("summary.json"), files.join(", "));
            const direct = await lifcal(["merge", out]);
            assert.equal(direct.code, 1, direct.stderr);
            assert.match(direct.stderr, /shard 1\/3 is missing: chips sim-3, sim-4/);

            const rerun = await _submit(c, [
              ...args,
              "--array",
              "1",
              "--lifcal",
              lifcalCmd,
              "--",
              ...FLAGS,
            ]);
            assert.match(rerun.stdout, /tasks 1 of shards 0-2/);
            await _waitForQueue(c, "task 1 alone + merge", rerun.submitted);
            assert.deepEqual(await _states(c, rerun.array), { "1": "COMPLETED 0:0" });
            assert.deepEqual(await _states(c, rerun.merge), { job: "COMPLETED 0:0" });
            const taskLog = await Deno.readTextFile(
              join(out, `slurm-logs/calibrate-${rerun.array}_1.out`),
            );
            assert.match(taskLog, /lifcal shard 1\/3/);
            assert.match(taskLog, /sim-3 skipped/);
            assert.match(taskLog, /sim-4 calibrated/);
            assert.deepEqual(await _results(out), refResults);
            assert.deepEqual(
              _stable(await readJson<_Summary>(join(out, "summary.json"))),
              _stable(reference),
            );
          },
        ),
      );
      if (steps.includes(false)) await _printLogs(clusters);
    } catch (e) {
      await _printLogs(clusters);
      throw e;
    } finally {
      for (const cl of clusters) await _stopCluster(cl);
      await refRun.catch(() => undefined);
      await Deno.remove(dir, { recursive: true });
      console.log(`  Slurm test wall time: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  },
});
