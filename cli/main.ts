/**
 * `lifcal`, the command line of lifcal (`deno task lifcal <command>`;
 * `deno task calibrate` runs `lifcal calibrate`).
 *
 * Exit codes: 0 done; 1 some chip below `--min-success`, a failed self
 * test, or `merge` refusing; 2 a usage or input error (nothing written);
 * 3 a runtime failure (finished chips stay written).
 *
 * @module
 */

import { Command, CommanderError, Option } from "../deps/commander.ts";
import pc from "../deps/picocolors.ts";
import { openBackend } from "../backends/open_backend.ts";
import { VERSION } from "../version.ts";
import {
  type Assignment,
  collectAssignment,
  parseFraction,
  parseNonNegativeInt,
  parsePositiveInt,
  parseSeeds,
} from "./args.ts";
import {
  BACKEND_KINDS,
  calibrateCommand,
  DEFAULT_BATCH_SIZE,
  DEFAULT_CHIPS,
} from "./calibrate_command.ts";
import { parseChipIds } from "./chip_source.ts";
import { conformanceCommand } from "./conformance_command.ts";
import {
  CONVERGENCE_BACKENDS,
  convergenceCommand,
  DEFAULT_ALGORITHMS,
  DEFAULT_CONVERGENCE_CHIPS,
  DEFAULT_CONVERGENCE_OUT,
  parseAlgorithms,
} from "./convergence_command.ts";
import { mergeCommand } from "./merge.ts";
import { reportCommand } from "./report.ts";
import { selftestCommand } from "./selftest.ts";
import { DEFAULT_LISTEN, serveCommand } from "./serve_command.ts";
import { parseShard } from "./shard.ts";
import { surveyChips } from "./survey.ts";
import { MergeRefusal, oneLine, UsageError } from "./usage_error.ts";

export { parseSeeds } from "./args.ts";

/** The chips `lifcal survey` measures without `--chips` or `--seeds`. */
const _SURVEY_CHIPS = 2;

function _sentence(text: string): string {
  const t = oneLine(text.replace(/^error:\s*/, ""));
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/**
 * Builds the `lifcal` command; each action reports its exit code through
 * `setExitCode`.
 *
 * @example
 * ```ts
 * import { buildProgram } from "./main.ts";
 * import assert from "node:assert/strict";
 * const program = buildProgram(() => {});
 * assert.equal(program.name(), "lifcal");
 * assert.deepEqual(program.commands.map((c) => c.name()),
 *   ["calibrate", "conformance", "convergence", "merge", "report", "selftest", "serve", "survey"]);
 * ```
 */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command()
    .name("lifcal")
    .description("Calibrate the LIF neurons of BrainScaleS-2 chips and their simulated twins")
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)),
      outputError: (s, write) => write(pc.red(`lifcal: ${_sentence(s)}\n`)),
    });

  program
    .command("calibrate")
    .description(
      "calibrate every neuron of a batch of chips; writes chips/<id>.json, summary.json, report.html and report.md",
    )
    .option(
      "--chips <n>",
      `simulated chips with seeds 1..n (default ${DEFAULT_CHIPS})`,
      parsePositiveInt,
    )
    .option("--seeds <list>", "seeds of the simulated chips, e.g. 1-64,100", parseSeeds)
    .addOption(
      new Option("--backend <kind>", "the executor").choices(BACKEND_KINDS).default(
        "auto" as const,
      ),
    )
    .option("--url <url>", "WebSocket address of a remote host (--backend remote), ws://HOST:PORT")
    .option(
      "--bridge <command>",
      'a remote host spoken to over stdio (--backend remote), e.g. "python3 host.py"',
    )
    .option(
      "--chip-ids <ids>",
      "some of the remote host's chips, e.g. hx-01,hx-02 (default: all it offers)",
      parseChipIds,
    )
    .option("--token-file <file>", "bearer token for --url (default: LIFCAL_TOKEN)")
    .option(
      "--request-timeout <s>",
      "seconds each remote request may take (default 600)",
      parsePositiveInt,
    )
    .option(
      "--reconnect-timeout <s>",
      "seconds to keep reconnecting to a remote host after a dropped connection (default 60)",
      parseNonNegativeInt,
    )
    .option("--target <file>", "JSON file with target fields (and options such as noise_seed)")
    .option(
      "--set <field=value>",
      "set a target or option field, repeatable; the value is JSON or text: --set tau_mem=20us --set leak=100",
      collectAssignment,
      [] as Assignment[],
    )
    .option(
      "--leak-over-threshold <rate>",
      "then set thresholds for this rate without input, e.g. 100kHz",
    )
    .option("--no-refine", "skip the final CADC re-calibration and potential refinement")
    .option(
      "--batch-size <k>",
      "chips calibrated together per backend batch",
      parsePositiveInt,
      DEFAULT_BATCH_SIZE,
    )
    .option("--out <dir>", "output folder", "./lifcal-out")
    .option("--resume", "skip chips whose valid result for the same target is in --out")
    .option(
      "--shard <i/n|auto>",
      "calibrate only shard i of n of the chips (auto: Slurm or Kubernetes)",
      parseShard,
    )
    .option(
      "--shard-count <n>",
      "shard count for --shard auto (needed with JOB_COMPLETION_INDEX; under Slurm the task id is then the shard)",
      parsePositiveInt,
    )
    .option("--json", "print the summary as JSON on stdout")
    .option("--quiet", "no progress and no table")
    .option(
      "--min-success <fraction>",
      "exit 1 if a chip has a smaller fraction of calibrated neurons",
      parseFraction,
      0.95,
    )
    .action(async (o) => {
      setExitCode(
        await calibrateCommand({
          chips: o.chips,
          seeds: o.seeds,
          backend: o.backend,
          url: o.url,
          bridge: o.bridge,
          chipIds: o.chipIds,
          tokenFile: o.tokenFile,
          requestTimeout: o.requestTimeout,
          reconnectTimeout: o.reconnectTimeout,
          target: o.target,
          set: o.set,
          leakOverThreshold: o.leakOverThreshold,
          refine: o.refine,
          batchSize: o.batchSize,
          out: o.out,
          resume: o.resume ?? false,
          shard: o.shard,
          shardCount: o.shardCount,
          json: o.json ?? false,
          quiet: o.quiet ?? false,
          minSuccess: o.minSuccess,
        }),
      );
    });

  program
    .command("conformance")
    .description(
      "check a host of lifcal's wire protocol: protocol rows and physics rows, a pass/fail table",
    )
    .option("--url <url>", "the host's WebSocket address, ws://HOST:PORT")
    .option("--bridge <command>", 'a host spoken to over stdio, e.g. "python3 host.py"')
    .option("--token-file <file>", "bearer token for --url (default: LIFCAL_TOKEN)")
    .option("--protocol-only", "run the protocol rows only")
    .option("--request-timeout <s>", "seconds each answer may take (default 30)", parsePositiveInt)
    .option("--json", "print the rows as JSON")
    .action(async (o) => {
      setExitCode(
        await conformanceCommand({
          url: o.url,
          bridge: o.bridge,
          tokenFile: o.tokenFile,
          protocolOnly: o.protocolOnly ?? false,
          json: o.json ?? false,
          requestTimeout: o.requestTimeout,
        }),
      );
    });

  program
    .command("convergence")
    .description(
      "calibrate the same twins once per search algorithm and compare their true residuals per measurement and per emulated second; writes convergence.json, convergence.html and convergence.md",
    )
    .option(
      "--chips <n>",
      `simulated chips with seeds 1..n (default ${DEFAULT_CONVERGENCE_CHIPS})`,
      parsePositiveInt,
    )
    .option("--seeds <list>", "seeds of the simulated chips, e.g. 1-64,100", parseSeeds)
    .addOption(
      new Option("--backend <kind>", "the executor").choices(CONVERGENCE_BACKENDS).default(
        "auto" as const,
      ),
    )
    .option("--target <file>", "JSON file with target fields (and options such as noise_seed)")
    .option(
      "--set <field=value>",
      "set a target or option field, repeatable: --set tau_mem=20us --set leak=100",
      collectAssignment,
      [] as Assignment[],
    )
    .option("--no-refine", "skip the final CADC re-calibration and potential refinement")
    .option(
      "--algorithms <list>",
      `search algorithms to compare, the first is the reference (default ${
        DEFAULT_ALGORITHMS.join(",")
      })`,
      parseAlgorithms,
    )
    .option("--out <dir>", "output folder", DEFAULT_CONVERGENCE_OUT)
    .option("--quiet", "no progress and no table")
    .action(async (o) => {
      setExitCode(
        await convergenceCommand({
          chips: o.chips,
          seeds: o.seeds,
          backend: o.backend,
          target: o.target,
          set: o.set,
          refine: o.refine,
          algorithms: o.algorithms ?? DEFAULT_ALGORITHMS,
          out: o.out,
          quiet: o.quiet ?? false,
        }),
      );
    });

  program
    .command("merge")
    .description(
      "join shard outputs into one summary.json and report; refuses on missing, duplicated or inconsistent shards",
    )
    .argument("<dirs...>", "output folders of the shards (one shared folder or several)")
    .option("--out <dir>", "where the merged output goes (default: the one folder given)")
    .option("--json", "print the merged summary as JSON on stdout")
    .option("--quiet", "print nothing else")
    .action(async (dirs, o) => {
      setExitCode(
        await mergeCommand(dirs, { out: o.out, json: o.json ?? false, quiet: o.quiet ?? false }),
      );
    });

  program
    .command("report")
    .description("rebuild report.html and report.md from DIR/summary.json and DIR/chips/")
    .argument("<dir>", "an output folder")
    .action(async (dir) => setExitCode(await reportCommand(dir)));

  program
    .command("selftest")
    .description("print the GPU adapter and check each available executor against the twin's truth")
    .action(async () => setExitCode(await selftestCommand()));

  program
    .command("serve")
    .description(
      "serve simulated chips over lifcal's wire protocol: WebSocket (token required) or stdio",
    )
    .option("--chips <n>", "simulated chips with seeds 1..n (default 8)", parsePositiveInt)
    .option("--seeds <list>", "seeds of the simulated chips, e.g. 1-64,100", parseSeeds)
    .addOption(
      new Option("--backend <kind>", "the executor").choices(["auto", "cpu", "webgpu"] as const)
        .default("auto" as const),
    )
    .option("--listen <host:port>", "WebSocket address to listen on", DEFAULT_LISTEN)
    .option("--stdio", "speak the protocol on stdin/stdout to the one client that spawned it")
    .option("--token-file <file>", "the bearer token clients must present (or LIFCAL_TOKEN)")
    .option(
      "--idle-timeout <s>",
      "seconds a partly received frame may wait for the rest",
      parsePositiveInt,
    )
    .option("--max-sessions <n>", "sessions at once", parsePositiveInt)
    .action(async (o) => {
      setExitCode(
        await serveCommand({
          backend: o.backend,
          chips: o.chips,
          seeds: o.seeds,
          listen: o.listen,
          stdio: o.stdio ?? false,
          tokenFile: o.tokenFile,
          idleTimeout: o.idleTimeout,
          maxSessions: o.maxSessions,
        }),
      );
    });

  program
    .command("survey")
    .description("measure the uncalibrated spread of every neuron parameter of simulated chips")
    .option(
      "--chips <n>",
      `simulated chips with seeds 1..n (default ${_SURVEY_CHIPS})`,
      parsePositiveInt,
    )
    .option(
      "--seeds <list>",
      "seeds of the simulated chips, e.g. 1-64,100 (not with --chips)",
      parseSeeds,
    )
    .addOption(
      new Option("--backend <kind>", "the executor").choices(["auto", "cpu"] as const).default(
        "auto" as const,
      ),
    )
    .option("--json", "print a JSON document instead of a table")
    .action(async (o) => {
      if (o.chips !== undefined && o.seeds !== undefined) {
        throw new UsageError("Give --chips or --seeds, not both");
      }
      await _survey(o.seeds ?? o.chips ?? _SURVEY_CHIPS, o.backend, o.json ?? false);
    });
  return program;
}

async function _survey(
  chips: number | number[],
  kind: "auto" | "cpu",
  json: boolean,
): Promise<void> {
  const backend = await openBackend({ backend: kind, chips });
  const t0 = performance.now();
  const surveys = await surveyChips(backend);
  const wall = (performance.now() - t0) / 1000;
  await backend.close();
  if (json) {
    console.log(
      JSON.stringify(
        { lifcal_version: VERSION, backend: backend.info, chips: surveys, wall_s: wall },
        null,
        2,
      ),
    );
    return;
  }
  console.log(
    pc.bold(`${backend.info.description}: uncalibrated spread over 512 neurons per chip`),
  );
  const names = Object.keys(surveys[0]!.params);
  console.log(["chip".padEnd(10), ...names.map((n) => n.padStart(20))].join(""));
  for (const s of surveys) {
    const cells = names.map((n) => {
      const p = s.params[n]!;
      return `${p.mean.toFixed(2)} ± ${p.std.toFixed(2)} ${p.unit}`.padStart(20);
    });
    console.log([s.id.padEnd(10), ...cells].join(""));
  }
  console.log(pc.dim(`${surveys.length} chips in ${wall.toFixed(2)} s`));
}

/**
 * Runs `lifcal` with the given arguments and returns the exit code; errors
 * are printed as one line on stderr.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await main(["--version"]), 0);
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  let code = 0;
  try {
    const program = buildProgram((c) => (code = c));
    if (args.length === 0) {
      // A usage error in one line, like every other (commander would print its help on stderr).
      throw new UsageError(
        `Give a command: ${
          program.commands.map((c) => c.name()).join(", ")
        } (lifcal help shows what each does)`,
      );
    }
    await program.parseAsync([...args], { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed its message (or the help / version) already.
      return e.exitCode === 0 ? 0 : 2;
    }
    const message = oneLine(e instanceof Error ? e.message : String(e));
    console.error(pc.red(`lifcal: ${message}`));
    if (e instanceof UsageError) return 2;
    if (e instanceof MergeRefusal) return 1;
    return 3;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
