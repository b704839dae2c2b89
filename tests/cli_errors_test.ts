import assert from "node:assert/strict";
import { join } from "node:path";
import { lifcal, listFiles } from "./_cli.ts";

/** A bad invocation: its arguments (OUT is the output folder) and what the message names. */
interface _Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly message: RegExp;
  readonly env?: Record<string, string>;
  /** The command takes no --out (the runner adds none). */
  readonly noOut?: boolean;
}

Deno.test("lifcal rejects bad input with one line naming the problem, exit 2, and writes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lifcal-errors-" });
  try {
    const malformed = join(dir, "malformed.json");
    await Deno.writeTextFile(malformed, '{"leak": 90,');
    // The parser quotes the file, newlines and all: the message must still be one line.
    const multiline = join(dir, "multiline.json");
    await Deno.writeTextFile(multiline, '{\n  "leak": oops\n}\n');
    const notAFolder = join(dir, "plain-file");
    await Deno.writeTextFile(notAFolder, "x");
    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    const OUT = "<OUT>";
    const cases: _Case[] = [
      {
        name: "unknown flag",
        args: ["calibrate", "--frobnicate"],
        message: /Unknown option '--frobnicate'/,
      },
      { name: "unknown command", args: ["frobnicate"], message: /frobnicate/ },
      {
        name: "malformed JSON target",
        args: ["calibrate", "--target", malformed],
        message: /malformed\.json is not valid JSON/,
      },
      {
        name: "malformed JSON target whose parse error quotes its lines",
        args: ["calibrate", "--target", multiline],
        message:
          /multiline\.json is not valid JSON: Unexpected token 'o', "\{ "leak": oops \} ?" is not valid JSON$/,
      },
      {
        name: "a flag commander suggests a fix for",
        args: ["calibrate", "--chip", "2"],
        message: /Unknown option '--chip' \(Did you mean --chips\?\)$/,
      },
      {
        name: "no command",
        args: [],
        message: /Give a command: calibrate, .*merge, .*survey \(lifcal help shows/,
        noOut: true,
      },
      {
        name: "survey with chips and seeds",
        args: ["survey", "--chips", "2", "--seeds", "5"],
        message: /--chips or --seeds, not both/,
        noOut: true,
      },
      {
        name: "merge into an empty --out",
        args: ["merge", empty, "--out", ""],
        message: /--out is an empty path; give a folder/,
      },
      {
        name: "missing target file",
        args: ["calibrate", "--target", join(dir, "nope.json")],
        message: /Cannot read target file .*nope\.json/,
      },
      {
        name: "time without a unit",
        args: ["calibrate", "--set", "tau_mem=10"],
        message: /tau_mem needs a unit/,
      },
      { name: "target out of range", args: ["calibrate", "--set", "leak=300"], message: /leak/ },
      {
        name: "unknown target field",
        args: ["calibrate", "--set", "leek=80"],
        message: /Unknown target field "leek"/,
      },
      {
        name: "not field=value",
        args: ["calibrate", "--set", "leak"],
        message: /"leak" is not of the form field=value/,
      },
      {
        name: "shard 3/2",
        args: ["calibrate", "--shard", "3/2"],
        message: /Shard 3\/2 does not exist/,
      },
      {
        name: "shard auto without environment",
        args: ["calibrate", "--shard", "auto"],
        message: /--shard auto found neither/,
      },
      {
        name: "rate without a unit",
        args: ["calibrate", "--leak-over-threshold", "100"],
        message: /leak-over-threshold.*unit/,
      },
      { name: "zero chips", args: ["calibrate", "--chips", "0"], message: /positive integer/ },
      { name: "backwards seeds", args: ["calibrate", "--seeds", "5-1"], message: /runs backwards/ },
      {
        name: "chips and seeds",
        args: ["calibrate", "--chips", "2", "--seeds", "1"],
        message: /--chips or --seeds, not both/,
      },
      { name: "unknown backend", args: ["calibrate", "--backend", "tpu"], message: /tpu/ },
      {
        name: "remote without --url",
        args: ["calibrate", "--backend", "remote"],
        message: /--backend remote needs --url ws:\/\/HOST:PORT or --bridge/,
      },
      {
        name: "remote backend with a URL that is not ws://",
        args: ["calibrate", "--backend", "remote", "--url", "tcp://x:1"],
        message: /tcp:\/\/x:1 is not a WebSocket URL/,
      },
      {
        name: "an excitatory COBA reversal below its reference",
        args: ["calibrate", "--set", "e_coba_reversal=[100,null]"],
        message: /e_coba_reversal \(excitatory\) of all 512 neurons must lie above its reference/,
      },
      {
        name: "a COBA reference outside 60..165",
        args: ["calibrate", "--set", "e_coba_reference=[200,null]"],
        message:
          /e_coba_reference \(excitatory\) of all 512 neurons is outside the allowed range 60\.\.165/,
      },
      {
        name: "COBA potentials too close for a working point",
        args: [
          "calibrate",
          "--set",
          "e_coba_reversal=[120,null]",
          "--set",
          "e_coba_reference=[100,null]",
        ],
        message: /Insufficient range for COBA reference and reversal potential \(excitatory\)/,
      },
      {
        name: "an unknown COBA anchor",
        args: ["calibrate", "--set", "coba_anchor=middle"],
        message: /coba_anchor must be "matched" or "reference"; got "middle"/,
      },
      {
        name: "min-success above 1",
        args: ["calibrate", "--min-success", "95"],
        message: /between 0 and 1/,
      },
      { name: "report without summary", args: ["report", empty], message: /summary\.json/ },
      { name: "merge without shards", args: ["merge", empty], message: /No shard summaries/ },
    ];
    const runs = await Promise.all(cases.map(async (c, k) => {
      const out = join(dir, `out-${k}`);
      const args = c.args.includes("report") || c.args.includes("merge") || c.noOut ||
          c.name.startsWith("unknown command")
        ? c.args
        : [...c.args, "--out", out];
      return { c, out, run: await lifcal(args.map((a) => (a === OUT ? out : a)), c.env) };
    }));
    // An output folder that cannot be created (its parent is a file).
    const unwritable = await lifcal([
      "calibrate",
      "--chips",
      "1",
      "--backend",
      "cpu",
      "--out",
      join(notAFolder, "out"),
    ]);
    runs.push({
      c: {
        name: "unwritable --out",
        args: [],
        message: /Output folder .*plain-file\/out is not writable/,
      },
      out: join(notAFolder, "out"),
      run: unwritable,
    });
    // An empty --out would be the current folder: refused, and nothing appears there.
    const cwd = join(dir, "cwd");
    await Deno.mkdir(cwd);
    runs.push({
      c: {
        name: "empty --out",
        args: [],
        message: /^lifcal: --out is an empty path; give a folder/,
      },
      out: cwd,
      run: await lifcal(["calibrate", "--chips", "1", "--backend", "cpu", "--out", ""], {}, cwd),
    });
    // An output folder whose chips entry is a file cannot take results: an input error, not exit 3.
    const chipsFile = join(dir, "chipsfile");
    await Deno.mkdir(chipsFile);
    await Deno.writeTextFile(join(chipsFile, "chips"), "x");
    const chipsRun = await lifcal([
      "calibrate",
      "--chips",
      "1",
      "--backend",
      "cpu",
      "--out",
      chipsFile,
    ]);
    assert.equal(chipsRun.code, 2, chipsRun.stderr);
    assert.match(
      chipsRun.stderr,
      /^lifcal: Output folder .*chipsfile cannot hold the chips' results: .*chipsfile\/chips is a file, not a folder\n$/,
    );
    assert.equal(chipsRun.stdout, "");
    assert.deepEqual(await listFiles(chipsFile), ["chips"]);
    assert.equal(await Deno.readTextFile(join(chipsFile, "chips")), "x");
    for (const { c, out, run } of runs) {
      assert.equal(run.code, 2, `${c.name}: exit ${run.code}: ${run.stderr}`);
      const lines = run.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `${c.name}: ${run.stderr}`);
      assert.match(lines[0]!, /^lifcal: [A-Z-]/, c.name);
      assert.match(lines[0]!, c.message, c.name);
      assert.equal(run.stdout, "", c.name);
      assert.deepEqual(await listFiles(out), [], `${c.name} wrote into ${out}`);
    }
    assert.equal(await Deno.readTextFile(notAFolder), "x");
    // Nothing else appeared beside the inputs.
    assert.deepEqual(await listFiles(dir), [
      "chipsfile/chips",
      "malformed.json",
      "multiline.json",
      "plain-file",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lifcal --version and help exit 0", async () => {
  const v = await lifcal(["--version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
  const h = await lifcal(["help", "calibrate"]);
  assert.equal(h.code, 0, h.stderr);
  for (
    const flag of [
      "--chips",
      "--seeds",
      "--backend",
      "--url",
      "--target",
      "--set",
      "--leak-over-threshold",
      "--no-refine",
      "--batch-size",
      "--out",
      "--resume",
      "--shard",
      "--json",
      "--quiet",
      "--min-success",
    ]
  ) {
    assert.ok(h.stdout.includes(flag), flag);
  }
  // The README's command table names exactly the flags survey and merge take.
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  for (const command of ["survey", "merge"]) {
    const row = readme.split("\n").find((l) => l.startsWith(`| \`lifcal ${command} `));
    assert.ok(row, `README has no row for lifcal ${command}`);
    const documented = [...new Set(row.split(/(?<!\\)\|/)[1]!.match(/--[a-z-]+/g))].sort();
    const help = await lifcal(["help", command]);
    assert.equal(help.code, 0, help.stderr);
    const offered = [...help.stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)]
      .map((m) => m[1]!).filter((f) => f !== "--help").sort();
    assert.deepEqual(documented, offered, command);
  }
});
