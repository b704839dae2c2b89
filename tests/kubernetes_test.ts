/**
 * `examples/kubernetes/`: the Indexed Job, its merge Job and the volume they
 * share, read with a small purpose-written YAML reader (block mappings and
 * sequences, plain and quoted scalars: what the manifests use; anything else
 * is refused, not guessed). For every completion index the environment
 * Kubernetes gives a pod, put through the CLI's own `--shard auto`
 * resolution, must give shard i of n, and the shards' chips must be the
 * manifest's chip list, each chip once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseSeeds } from "../cli/args.ts";
import { resolveChips } from "../cli/chip_source.ts";
import { resolveAutoShard, shardChips } from "../cli/shard.ts";

const DIR = new URL("../examples/kubernetes/", import.meta.url);

/** A YAML value as the reader returns it. */
type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

interface _Line {
  readonly indent: number;
  readonly text: string;
  readonly no: number;
}

/** Drops a trailing ` # comment` outside quotes. */
function _uncomment(text: string): string {
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "#" && (i === 0 || text[i - 1] === " ")) return text.slice(0, i).trimEnd();
  }
  return text.trimEnd();
}

function _scalar(text: string, no: number): Yaml {
  if (/^[[{&*!|>%@`]/.test(text)) {
    throw new Error(`line ${no}: "${text}" uses YAML this reader does not read`);
  }
  if (text.startsWith('"')) return JSON.parse(text) as string;
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) throw new Error(`line ${no}: unclosed '${text}`);
    return text.slice(1, -1).replaceAll("''", "'");
  }
  if (text === "null" || text === "~") return null;
  if (text === "true" || text === "false") return text === "true";
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

const KEY = /^([A-Za-z0-9_./-]+):(?:\s+(.*))?$/;

/** Reads the block at `lines[i]` (indented `indent`); returns it and the next line's index. */
function _block(lines: readonly _Line[], i: number, indent: number): [Yaml, number] {
  const first = lines[i]!;
  if (first.indent !== indent) throw new Error(`line ${first.no}: unexpected indentation`);
  if (first.text === "-" || first.text.startsWith("- ")) {
    const items: Yaml[] = [];
    while (i < lines.length && lines[i]!.indent === indent && /^-( |$)/.test(lines[i]!.text)) {
      const line = lines[i]!;
      const rest = line.text.slice(1).trimStart();
      if (rest === "") {
        const below = lines[i + 1];
        if (!below || below.indent <= indent) throw new Error(`line ${line.no}: empty item`);
        const [value, next] = _block(lines, i + 1, below.indent);
        items.push(value);
        i = next;
      } else if (KEY.test(rest)) {
        // "- key: value": a mapping whose keys stand where "key" does.
        const column = indent + line.text.length - rest.length;
        const inner = [{ indent: column, text: rest, no: line.no }, ...lines.slice(i + 1)];
        const [value, next] = _block(inner, 0, column);
        items.push(value);
        i += next;
      } else {
        items.push(_scalar(rest, line.no));
        i++;
      }
    }
    return [items, i];
  }
  const map: { [key: string]: Yaml } = {};
  while (i < lines.length && lines[i]!.indent === indent) {
    const line = lines[i]!;
    const m = KEY.exec(line.text);
    if (!m) throw new Error(`line ${line.no}: "${line.text}" is not "key: value"`);
    const key = m[1]!;
    if (key in map) throw new Error(`line ${line.no}: ${key} twice`);
    if (m[2] !== undefined && m[2] !== "") {
      map[key] = _scalar(m[2], line.no);
      i++;
      continue;
    }
    const next = lines[i + 1];
    if (next && (next.indent > indent || (next.indent === indent && /^-( |$)/.test(next.text)))) {
      [map[key], i] = _block(lines, i + 1, next.indent);
    } else {
      map[key] = null;
      i++;
    }
  }
  if (i < lines.length && lines[i]!.indent > indent) {
    throw new Error(`line ${lines[i]!.no}: unexpected indentation`);
  }
  return [map, i];
}

/** The documents of a YAML stream (separated by `---`). */
function readYaml(text: string): Yaml[] {
  const docs: _Line[][] = [[]];
  text.split("\n").forEach((raw, n) => {
    if (raw.includes("\t")) throw new Error(`line ${n + 1}: a tab`);
    if (/^---\s*$/.test(raw)) return void docs.push([]);
    const body = _uncomment(raw.trimStart());
    if (body === "") return;
    docs.at(-1)!.push({ indent: raw.length - raw.trimStart().length, text: body, no: n + 1 });
  });
  return docs.filter((d) => d.length > 0).map((lines) => {
    const [value, next] = _block(lines, 0, 0);
    if (next !== lines.length) throw new Error(`line ${lines[next]!.no}: unexpected indentation`);
    return value;
  });
}

/** `value` at `path` (keys and indices), failing with the path when absent. */
function at(value: Yaml, ...path: (string | number)[]): Yaml {
  let v: Yaml | undefined = value;
  for (const [n, key] of path.entries()) {
    v = Array.isArray(v)
      ? v[key as number]
      : v !== null && typeof v === "object"
      ? v[key as string]
      : undefined;
    if (v === undefined) throw new Error(`no ${path.slice(0, n + 1).join(".")}`);
  }
  return v;
}

async function _manifest(name: string): Promise<Yaml> {
  const docs = readYaml(await Deno.readTextFile(new URL(name, DIR)));
  assert.equal(docs.length, 1, `${name}: one document`);
  return docs[0]!;
}

/** A container's `env` as a record. */
function _env(container: Yaml): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of at(container, "env") as Yaml[]) {
    env[at(e, "name") as string] = String(at(e, "value"));
  }
  return env;
}

/** The value after `flag` in `args`, or undefined. */
function _flag(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

/** The folder a path is written to inside the container, and the claim behind it. */
function _claimOf(podSpec: Yaml, container: Yaml, path: string): string {
  const mount = (at(container, "volumeMounts") as Yaml[]).find((m) =>
    path.startsWith(`${at(m, "mountPath")}/`)
  );
  assert.ok(mount, `${path} is on no volume mount`);
  const volume = (at(podSpec, "volumes") as Yaml[]).find((v) =>
    at(v, "name") === at(mount, "name")
  );
  assert.ok(volume, `no volume ${at(mount, "name")}`);
  return at(volume, "persistentVolumeClaim", "claimName") as string;
}

Deno.test("the YAML reader reads what the manifests use and refuses the rest", () => {
  assert.deepEqual(
    readYaml(`# top
a: 1
b:
  - x   # note
  - "y # not a comment"
  - k: v
    n: 'it''s'
c:
- 2
d:
e: true
---
f: null
`),
    [{ a: 1, b: ["x", "y # not a comment", { k: "v", n: "it's" }], c: [2], d: null, e: true }, {
      f: null,
    }],
  );
  assert.throws(() => readYaml("a: [1, 2]"), /does not read/);
  assert.throws(() => readYaml("a: |\n  text"), /does not read/);
  assert.throws(() => readYaml("a: 1\n  b: 2"), /unexpected indentation/);
  assert.throws(() => readYaml("a: 1\na: 2"), /a twice/);
});

Deno.test("Kubernetes: each completion index of the Indexed Job calibrates its own shard; merge reads the same volume", async () => {
  const job = await _manifest("calibrate-job.yaml");
  assert.equal(at(job, "apiVersion"), "batch/v1");
  assert.equal(at(job, "kind"), "Job");
  assert.equal(at(job, "spec", "completionMode"), "Indexed");
  const n = at(job, "spec", "completions");
  assert.ok(typeof n === "number" && Number.isInteger(n) && n >= 1, `completions ${n}`);
  const parallelism = at(job, "spec", "parallelism") as number;
  assert.ok(parallelism >= 1 && parallelism <= n, `parallelism ${parallelism}`);
  const pod = at(job, "spec", "template", "spec");
  assert.equal(at(pod, "restartPolicy"), "Never");
  const containers = at(pod, "containers") as Yaml[];
  assert.equal(containers.length, 1);
  const container = containers[0]!;
  const args = (at(container, "args") as Yaml[]).map(String);
  assert.equal(args[0], "calibrate");
  assert.equal(_flag(args, "--shard"), "auto");
  assert.ok(args.includes("--resume"), "a retried pod resumes its shard");
  const out = _flag(args, "--out");
  assert.ok(out?.startsWith("/"), `--out ${out}`);
  const env = _env(container);
  const shardCount = _flag(args, "--shard-count");
  // The count reaches lifcal one way or the other, and it is the number of completions.
  assert.ok(env.LIFCAL_SHARD_COUNT !== undefined || shardCount !== undefined);
  assert.equal(Number(shardCount ?? env.LIFCAL_SHARD_COUNT), n);
  assert.equal(env.JOB_COMPLETION_INDEX, undefined, "Kubernetes sets JOB_COMPLETION_INDEX");

  const backend = _flag(args, "--backend") ?? "auto";
  assert.ok(["auto", "cpu", "webgpu"].includes(backend), backend);
  const seeds = _flag(args, "--seeds");
  const chips = _flag(args, "--chips");
  const source = await resolveChips(
    {
      backend: backend as "auto" | "cpu" | "webgpu",
      seeds: seeds === undefined ? undefined : parseSeeds(seeds),
      chips: chips === undefined ? undefined : Number(chips),
    },
    {},
    8,
  );
  const all = source.ids;
  assert.ok(all.length >= n, `${all.length} chips for ${n} shards: some shard would be empty`);

  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    // What the pod of completion index i sees: Kubernetes' variable and the manifest's env.
    const podEnv = { ...env, JOB_COMPLETION_INDEX: String(i) };
    const shard = resolveAutoShard(
      podEnv,
      shardCount === undefined ? undefined : Number(shardCount),
    );
    assert.deepEqual(shard, { index: i, count: n });
    const mine = shardChips(all, shard);
    assert.ok(mine.length > 0, `shard ${i} is empty`);
    seen.push(...mine);
  }
  assert.deepEqual(seen, [...all], "the shards' chips in order are the chip list, each once");
  assert.equal(new Set(seen).size, all.length);
  // An index beyond the completions is no shard.
  assert.throws(
    () => resolveAutoShard({ ...env, JOB_COMPLETION_INDEX: String(n) }, undefined),
    /does not exist/,
  );

  // The merge Job: one pod, no retry, `lifcal merge` on the same folder of the same claim.
  const merge = await _manifest("merge-job.yaml");
  assert.equal(at(merge, "kind"), "Job");
  assert.equal((at(merge, "spec") as Record<string, Yaml>).completionMode, undefined);
  const mergePod = at(merge, "spec", "template", "spec");
  const mergeContainer = (at(mergePod, "containers") as Yaml[])[0]!;
  assert.deepEqual((at(mergeContainer, "args") as Yaml[]).map(String), ["merge", out]);
  assert.equal(at(mergeContainer, "image"), at(container, "image"));
  assert.equal(at(merge, "spec", "backoffLimit"), 0);
  const claim = _claimOf(pod, container, out!);
  assert.equal(_claimOf(mergePod, mergeContainer, out!), claim);

  const pvc = await _manifest("pvc.yaml");
  assert.equal(at(pvc, "kind"), "PersistentVolumeClaim");
  assert.equal(at(pvc, "metadata", "name"), claim);
  assert.ok(
    (at(pvc, "spec", "accessModes") as Yaml[]).includes("ReadWriteMany"),
    "pods on several nodes write the same volume",
  );
});
