import assert from "node:assert/strict";
import { join } from "node:path";
import { CpuBackend, DEFAULT_TWIN_CONFIG, type Measurement } from "../mod.ts";
import { serveWebSocket } from "../backends/remote/server.ts";
import { cpuHost, HOST_SEEDS, stdioServeCommand, TOKEN } from "./_backends.ts";
import { chipsWithoutWall, lifcal, listFiles, logTime, MAIN, readJson } from "./_cli.ts";

const CHIPS = ["sim-1", "sim-2"];

async function withTokenFile<T>(token: string, fn: (file: string, dir: string) => Promise<T>) {
  const dir = await Deno.makeTempDir({ prefix: "lifcal-remote-" });
  try {
    const file = join(dir, "token");
    await Deno.writeTextFile(file, `${token}\n`);
    return await fn(file, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

Deno.test("lifcal calibrate over remote (WebSocket and --bridge) writes the CPU backend's per-chip results", async () => {
  const server = serveWebSocket(cpuHost([1, 2]), { port: 0 });
  await withTokenFile(TOKEN, async (tokenFile, dir) => {
    try {
      const flags = ["--no-refine", "--quiet", "--batch-size", "1"];
      const cpu = await lifcal([
        "calibrate",
        "--backend",
        "cpu",
        "--seeds",
        "1-2",
        ...flags,
        "--out",
        join(dir, "cpu"),
      ]);
      logTime("cpu", cpu);
      // Both chips in one batch here: per-chip targets of several chips cross the wire.
      const ws = await lifcal([
        "calibrate",
        "--backend",
        "remote",
        "--url",
        server.url,
        "--token-file",
        tokenFile,
        ...flags,
        "--batch-size",
        "2",
        "--out",
        join(dir, "ws"),
      ]);
      logTime("remote over WebSocket", ws);
      const bridge = await lifcal([
        "calibrate",
        "--backend",
        "remote",
        "--bridge",
        stdioServeCommand([1, 2]).map((w) => `'${w}'`).join(" "),
        "--token-file",
        tokenFile, // ignored over stdio
        ...flags,
        "--out",
        join(dir, "bridge"),
      ]);
      logTime("remote over --bridge", bridge);
      for (const run of [cpu, ws, bridge]) assert.equal(run.code, 0, run.stderr);
      for (const id of CHIPS) {
        const want = await Deno.readTextFile(join(dir, "cpu", "chips", `${id}.json`));
        for (const out of ["ws", "bridge"]) {
          assert.equal(await Deno.readTextFile(join(dir, out, "chips", `${id}.json`)), want);
        }
      }
      const summaries = await Promise.all(
        ["cpu", "ws", "bridge"].map((d) =>
          readJson<{ chips: { wall_s: number }[]; backend: { kind: string } }>(
            join(dir, d, "summary.json"),
          )
        ),
      );
      assert.deepEqual(summaries.map((s) => s.backend.kind), ["cpu", "remote", "remote"]);
      assert.deepEqual(chipsWithoutWall(summaries[1]!), chipsWithoutWall(summaries[0]!));
      assert.deepEqual(chipsWithoutWall(summaries[2]!), chipsWithoutWall(summaries[0]!));

      // --chip-ids picks chips, --shard splits the host's list in hello order; resume works by id.
      const shard = await lifcal([
        "calibrate",
        "--backend",
        "remote",
        "--url",
        server.url,
        "--token-file",
        tokenFile,
        ...flags,
        "--shard",
        "1/2",
        "--out",
        join(dir, "ws"),
        "--resume",
        "--json",
      ]);
      assert.equal(shard.code, 0, shard.stderr);
      const s = JSON.parse(shard.stdout) as { chips: { id: string }[]; plan: { chips: string[] } };
      assert.deepEqual(s.chips.map((c) => c.id), ["sim-2"]);
      assert.deepEqual(s.plan.chips, CHIPS);
      const picked = await lifcal([
        "calibrate",
        "--backend",
        "remote",
        "--url",
        server.url,
        "--chip-ids",
        "sim-2",
        ...flags,
        "--out",
        join(dir, "picked"),
      ], { LIFCAL_TOKEN: TOKEN });
      assert.equal(picked.code, 0, picked.stderr);
      assert.deepEqual(await listFiles(join(dir, "picked", "chips")), [
        "sim-2.json",
        "sim-2.run.json",
      ]);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("lifcal calibrate --backend remote: bad input is one line, exit 2, nothing written", async (t) => {
  const server = serveWebSocket(cpuHost([1, 2]), { port: 0 });
  const empty = serveWebSocket(cpuHost([]), { port: 0 });
  await withTokenFile(TOKEN, async (tokenFile, dir) => {
    const wrong = join(dir, "wrong");
    await Deno.writeTextFile(wrong, "not-the-token\n");
    const out = join(dir, "out");
    const remote = ["calibrate", "--backend", "remote", "--out", out];
    const cases: [string, string[], Record<string, string>, RegExp][] = [
      [
        "a refused token",
        [...remote, "--url", server.url, "--token-file", wrong],
        {},
        /refused the token \(The token is wrong\)/,
      ],
      [
        "no token",
        [...remote, "--url", server.url],
        {},
        /refused the token \(This host requires a token: send auth first\)/,
      ],
      [
        "a host that offers no chips",
        [...remote, "--url", empty.url, "--token-file", tokenFile],
        {},
        /The host at ws:\/\/\S+ offers no chips/,
      ],
      [
        "--chip-ids naming a chip the host lacks",
        [...remote, "--url", server.url, "--chip-ids", "sim-2,sim-9"],
        { LIFCAL_TOKEN: TOKEN },
        /has no chip sim-9; it offers sim-1, sim-2/,
      ],
      [
        "--seeds with remote",
        [...remote, "--url", server.url, "--seeds", "1-2"],
        { LIFCAL_TOKEN: TOKEN },
        /--seeds is not used with --backend remote: the host decides which chips exist/,
      ],
      [
        "--chips with remote",
        [...remote, "--url", server.url, "--chips", "2"],
        { LIFCAL_TOKEN: TOKEN },
        /--chips is not used with --backend remote/,
      ],
      [
        "--url and --bridge",
        [...remote, "--url", server.url, "--bridge", "python3 host.py"],
        {},
        /needs --url ws:\/\/HOST:PORT or --bridge "COMMAND" \(one of them\)/,
      ],
      [
        "--url without remote",
        ["calibrate", "--backend", "cpu", "--url", server.url, "--out", out],
        {},
        /--url is only used with --backend remote/,
      ],
      [
        "--chip-ids without remote",
        ["calibrate", "--chip-ids", "sim-1", "--out", out],
        {},
        /--chip-ids is only used with --backend remote/,
      ],
      [
        "a URL that is not a WebSocket URL",
        [...remote, "--url", "http://127.0.0.1:1", "--token-file", tokenFile],
        {},
        /is not a WebSocket URL/,
      ],
    ];
    try {
      for (const [name, args, env, message] of cases) {
        await t.step(name, async () => {
          const r = await lifcal(args, env);
          assert.equal(r.code, 2, r.stderr);
          assert.match(oneLine(r.stderr), message);
          assert.deepEqual(await listFiles(out), []);
        });
      }
    } finally {
      await server.shutdown();
      await empty.shutdown();
    }
  });
});

Deno.test("lifcal calibrate --backend remote: an unreachable host, a host lost or stalled mid-run exit 3 with finished chips kept", async (t) => {
  await withTokenFile(TOKEN, async (tokenFile, dir) => {
    const flags = ["--backend", "remote", "--token-file", tokenFile, "--no-refine", "--quiet"];

    await t.step("an unreachable URL", async () => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      const out = join(dir, "unreachable");
      const r = await lifcal([
        "calibrate",
        ...flags,
        "--url",
        `ws://127.0.0.1:${port}`,
        "--out",
        out,
      ]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(oneLine(r.stderr), new RegExp(`Cannot reach ws://127\\.0\\.0\\.1:${port}`));
      assert.deepEqual(await listFiles(out), []);
    });

    await t.step("a host lost after the first chip", async () => {
      // The host goes away once the second chip's calibration is under way (its first
      // measurement): not merely once the first chip's file exists, which a responsive host
      // (the CPU executor measures on workers) may see before the client opened the next batch.
      let busy!: () => void;
      const secondChipBusy = new Promise<void>((r) => (busy = r));
      const server = serveWebSocket(
        cpuHost([1, 2], {
          open: (ix) => {
            const be = new CpuBackend(ix.map((i) => [1, 2][i]!), DEFAULT_TWIN_CONFIG);
            if (ix.includes(1)) {
              const measure = be.measure.bind(be);
              be.measure = (m, selection) => {
                busy();
                return measure(m, selection);
              };
            }
            return Promise.resolve(be);
          },
        }),
        { port: 0 },
      );
      const out = join(dir, "lost");
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          MAIN,
          "calibrate",
          ...flags,
          "--url",
          server.url,
          "--batch-size",
          "1",
          "--reconnect-timeout",
          "1",
          "--out",
          out,
        ],
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const first = join(out, "chips", "sim-1.json");
      for (let i = 0; i < 1200; i++) {
        if (await Deno.stat(first).then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.race([secondChipBusy, child.status]);
      await server.shutdown();
      const { code, stderr } = await child.output();
      const text = new TextDecoder().decode(stderr);
      assert.equal(code, 3, text);
      assert.match(text, /calibration of sim-2 failed: .*could not reconnect within 1 s/);
      assert.match(
        text,
        /finished chips stay in .*chips \(1 chip in this run; rerun with --resume/,
      );
      assert.deepEqual(await listFiles(join(out, "chips")), ["sim-1.json", "sim-1.run.json"]);
    });

    await t.step("a host that stops answering", async () => {
      // The host hangs on every measurement of the second chip.
      const host = cpuHost(HOST_SEEDS, {
        open: (ix) => {
          const be = new CpuBackend(ix.map((i) => HOST_SEEDS[i]!), DEFAULT_TWIN_CONFIG);
          if (ix.includes(1)) {
            be.measure = (_m: Measurement) => new Promise(() => {});
            be.search = () => new Promise(() => {});
          }
          return Promise.resolve(be);
        },
      });
      const server = serveWebSocket(host, { port: 0 });
      const out = join(dir, "stalled");
      try {
        const r = await lifcal([
          "calibrate",
          ...flags,
          "--url",
          server.url,
          "--chip-ids",
          "sim-1,sim-2",
          "--batch-size",
          "1",
          "--request-timeout",
          "2",
          "--out",
          out,
        ]);
        assert.equal(r.code, 3, r.stderr);
        assert.match(
          r.stderr,
          /calibration of sim-2 failed: Request \d+ \((search|measure) [\w-]+\) to ws:\/\/\S+ got no answer within 2 s/,
        );
        assert.deepEqual(await listFiles(join(out, "chips")), ["sim-1.json", "sim-1.run.json"]);
      } finally {
        await server.shutdown();
      }
    });
  });
});

Deno.test("lifcal serve refuses to listen without a token, on loopback too", async () => {
  for (const listen of ["0.0.0.0:0", "127.0.0.1:0"]) {
    const r = await lifcal(["serve", "--backend", "cpu", "--chips", "1", "--listen", listen]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(oneLine(r.stderr), /refuses to listen on .* without a token: give --token-file/);
  }
});

Deno.test("lifcal conformance passes against serve and fails with a clear row against a broken host", async () => {
  const ok = await lifcal([
    "conformance",
    "--bridge",
    stdioServeCommand([4]).map((w) => `'${w}'`).join(" "),
  ]);
  logTime("conformance over stdio", ok);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /conforms: 23 passed, 0 failed, 0 not implemented, 2 not applicable/);

  // A host whose resting potential moves the wrong way: 255 − reading.
  const broken = cpuHost([1], {
    open: () => {
      const be = new CpuBackend([1], DEFAULT_TWIN_CONFIG);
      const measure = be.measure.bind(be);
      be.measure = async (m, selection) => {
        const r = await measure(m, selection);
        return m.kind === "resting-potential" ? r.map((v) => 255 - v) : r;
      };
      return Promise.resolve(be);
    },
  });
  const server = serveWebSocket(broken, { port: 0 });
  try {
    const bad = await lifcal(["conformance", "--url", server.url], { LIFCAL_TOKEN: TOKEN });
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(
      bad.stdout,
      /fail\s+physics\s+v_leak raises the resting potential\s+v_leak 300 → 700: median [\d.]+ → [\d.]+, 0\.0 % of 512 moved up \(need 90 %\)/,
    );
    assert.match(bad.stdout, /does not conform: 24 passed, 1 failed/);
    const missing = await lifcal(["conformance", "--url", server.url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /pass\s+protocol\s+a request without the token is refused/);
    assert.match(missing.stdout, /fail\s+protocol\s+hello describes the host/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the Python host skeleton passes the protocol rows and lists the physics rows as not implemented", async () => {
  const bridge = ["--bridge", "python3 examples/hardware_host/host.py --chips hx-01,hx-02"];
  const protocol = await lifcal(["conformance", "--protocol-only", ...bridge]);
  assert.equal(protocol.code, 0, protocol.stdout + protocol.stderr);
  assert.match(
    protocol.stdout,
    /conforms: 11 passed, 0 failed, 0 not implemented, 2 not applicable/,
  );
  const all = await lifcal(["conformance", ...bridge, "--json"]);
  assert.equal(all.code, 1, all.stderr);
  const report = JSON.parse(all.stdout) as {
    conforms: boolean;
    rows: { group: string; status: string; detail: string }[];
  };
  assert.equal(report.conforms, false);
  const physics = report.rows.filter((r) => r.group === "physics");
  assert.equal(physics.length, 12);
  for (const row of physics) {
    assert.equal(row.status, "not implemented");
    assert.match(row.detail, /not-connected: .*fill in Chip\.\w+ with your hardware calls/);
  }
  // calibrate through it: an input error would be exit 2; a host without a chip is exit 3.
  const out = await Deno.makeTempDir();
  try {
    const r = await lifcal([
      "calibrate",
      "--backend",
      "remote",
      ...bridge,
      "--chip-ids",
      "hx-02",
      "--quiet",
      "--out",
      out,
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /calibration of hx-02 failed: .*not-connected|no chip is connected/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
