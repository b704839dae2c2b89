/**
 * `lifcal`, the command line of lifcal (`deno task lifcal <command>`).
 *
 * @module
 */

import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import pc from "picocolors";
import { openBackend } from "../backends/open_backend.ts";
import { VERSION } from "../version.ts";
import { surveyChips } from "./survey.ts";

/**
 * Parses a seed list such as `1-4,10,12-13`.
 *
 * @example
 * ```ts
 * import { parseSeeds } from "./main.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseSeeds("1-3,7"), [1, 2, 3, 7]);
 * ```
 */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new InvalidArgumentError(`"${part}" is not a seed or a range like 1-64`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new InvalidArgumentError(`Range ${part} runs backwards`);
    if (hi - lo > 1_000_000) throw new InvalidArgumentError(`Range ${part} is too long`);
    for (let s = lo; s <= hi; s++) out.push(s);
  }
  return out;
}

function _positiveInt(text: string): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError("must be a positive integer");
  return v;
}

/**
 * Builds the `lifcal` command (exported for tests).
 *
 * @example
 * ```ts
 * import { buildProgram } from "./main.ts";
 * import assert from "node:assert/strict";
 * assert.equal(buildProgram().name(), "lifcal");
 * ```
 */
export function buildProgram(): Command {
  const program = new Command()
    .name("lifcal")
    .description("Calibrate the LIF neurons of BrainScaleS-2 chips and their simulated twins")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)) });

  program
    .command("survey")
    .description("measure the uncalibrated spread of every neuron parameter of simulated chips")
    .option("--chips <n>", "number of simulated chips (seeds 1..n)", _positiveInt, 2)
    .option("--seeds <list>", "seeds of the simulated chips, e.g. 1-64,100", parseSeeds)
    .option("--backend <kind>", "auto | cpu", "auto")
    .option("--json", "print a JSON document instead of a table")
    .action(async (opts) => {
      await _survey(opts.seeds ?? opts.chips, opts.backend, opts.json ?? false);
    });

  program
    .command("calibrate")
    .description(
      "survey the chips a calibration will start from (neuron calibration: next version)",
    )
    .option("--chips <n>", "number of simulated chips (seeds 1..n)", _positiveInt, 2)
    .option("--seeds <list>", "seeds of the simulated chips, e.g. 1-64,100", parseSeeds)
    .option("--backend <kind>", "auto | cpu", "auto")
    .option("--json", "print a JSON document instead of a table")
    .action(async (opts) => {
      console.error(
        pc.yellow(
          "lifcal " + VERSION +
            " does not calibrate neurons yet; this is the uncalibrated state a calibration starts from.",
        ),
      );
      await _survey(opts.seeds ?? opts.chips, opts.backend, opts.json ?? false);
    });
  return program;
}

async function _survey(chips: number | number[], kind: string, json: boolean): Promise<void> {
  if (kind !== "auto" && kind !== "cpu") {
    throw new RangeError(`backend "${kind}" is not available in this version; use auto or cpu`);
  }
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

if (import.meta.main) {
  try {
    await buildProgram().parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") Deno.exit(0);
    if (err.code?.startsWith("commander.")) Deno.exit(2);
    if (e instanceof InvalidArgumentError || e instanceof RangeError || e instanceof TypeError) {
      console.error(pc.red(`lifcal: ${(e as Error).message}`));
      Deno.exit(2);
    }
    console.error(pc.red(`lifcal: ${err.message ?? String(e)}`));
    Deno.exit(3);
  }
}
