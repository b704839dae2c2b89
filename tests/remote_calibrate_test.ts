import assert from "node:assert/strict";
import {
  type Backend,
  calibrate,
  CpuBackend,
  DEFAULT_TWIN_CONFIG,
  openBackend,
  resultToJson,
  type SearchSpec,
} from "../mod.ts";
import { ProtocolError } from "../backends/remote/frame.ts";
import { RemoteBackend } from "../backends/remote/remote_backend.ts";
import { Connection, RequestTimeoutError } from "../backends/remote/client.ts";
import { webSocketConnector } from "../backends/remote/link.ts";
import { serveWebSocket } from "../backends/remote/server.ts";
import { cpuHost, HOST_SEEDS, stdioServeCommand, TOKEN } from "./_backends.ts";
import { CLI_ENV, MAIN } from "./_cli.ts";

async function calibrated(be: Backend): Promise<string[]> {
  try {
    return (await calibrate(be)).map(resultToJson);
  } finally {
    await be.close();
  }
}

Deno.test("calibrate over a remote host gives the CPU backend's results, over WebSocket and over stdio", async () => {
  const t0 = performance.now();
  const direct = await calibrated(new CpuBackend([3], DEFAULT_TWIN_CONFIG));
  const t1 = performance.now();
  const server = serveWebSocket(cpuHost(), { port: 0 });
  try {
    const ws = await RemoteBackend.open({ url: server.url, token: TOKEN, chips: ["sim-3"] });
    const overWs = await calibrated(ws);
    const t2 = performance.now();
    const stdio = await RemoteBackend.open({ bridge: stdioServeCommand([3]), onNotice: () => {} });
    const overStdio = await calibrated(stdio);
    const t3 = performance.now();
    assert.equal(overWs[0], direct[0]);
    assert.equal(overStdio[0], direct[0]);
    console.log(
      `  in-process ${((t1 - t0) / 1000).toFixed(1)} s; WebSocket ${
        ((t2 - t1) / 1000).toFixed(1)
      } s in ${ws.stats.requests} round trips (${ws.stats.byType.search} searches, ${ws.stats.byType.measure} measurements, ${ws.stats.byType.write} writes); stdio ${
        ((t3 - t2) / 1000).toFixed(1)
      } s`,
    );
    // One round trip per search: the host runs them.
    assert.ok(ws.stats.byType.search! >= 20 && ws.stats.requests < 200, JSON.stringify(ws.stats));
  } finally {
    await server.shutdown();
  }
});

Deno.test("a host without whole searches gets them step by step, with the same codes", async () => {
  const spec: SearchSpec = {
    field: "v_leak",
    algorithm: { name: "noisy-binary" },
    target: 90,
    measurement: { kind: "resting-potential" },
  };
  const local = await openBackend({ backend: "cpu", chips: [4] });
  const want = await local.search(spec);
  await local.close();
  const server = serveWebSocket(cpuHost(HOST_SEEDS, { capabilities: { search: false } }), {
    port: 0,
  });
  try {
    const be = await RemoteBackend.open({ url: server.url, token: TOKEN, chips: ["sim-4"] });
    const got = await be.search(spec);
    assert.deepEqual(got.codes, want.codes);
    assert.equal(be.stats.byType.search, undefined);
    assert.equal(be.stats.byType.measure, 13);
    assert.deepEqual([...be.counters()], [14]);
    await be.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("a chip belongs to one session: another waits, then gets a clear busy error", async () => {
  const server = serveWebSocket(cpuHost(), { port: 0 });
  try {
    const a = await RemoteBackend.open({ url: server.url, token: TOKEN, chips: ["sim-1"] });
    const t0 = performance.now();
    await assert.rejects(
      () =>
        RemoteBackend.open({
          url: server.url,
          token: TOKEN,
          chips: ["sim-2", "sim-1"],
          openWaitSeconds: 1,
        }),
      (e) =>
        e instanceof ProtocolError && e.code === "busy" &&
        /sim-1 belongs to another session \(waited 1 s\)/.test(e.message),
    );
    assert.ok(performance.now() - t0 >= 900);
    // A waiting session gets the chip as soon as its holder lets go.
    const waiting = RemoteBackend.open({
      url: server.url,
      token: TOKEN,
      chips: ["sim-1"],
      openWaitSeconds: 20,
    });
    await new Promise((r) => setTimeout(r, 200));
    await a.write({ v_leak: 123 });
    await a.close();
    const b = await waiting;
    assert.equal(b.chips[0]!.id, "sim-1");
    // It starts from the power-on state, as a local backend does.
    assert.equal((await b.config())[0]!.v_leak[0], 400);
    await b.write({ v_leak: 321 });
    await b.close();
    // With reset: false a session continues from what the last one left.
    const c = await RemoteBackend.open({
      url: server.url,
      token: TOKEN,
      chips: ["sim-1"],
      reset: false,
    });
    assert.equal((await c.config())[0]!.v_leak[0], 321);
    await c.close();
  } finally {
    await server.shutdown();
  }
});

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function startServe(port: number, seeds: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--backend",
      "cpu",
      "--seeds",
      seeds,
      "--listen",
      `127.0.0.1:${port}`,
    ],
    env: { ...CLI_ENV, LIFCAL_TOKEN: TOKEN },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** Waits until a serve process says it listens; returns its stderr reader's remaining lines. */
async function listening(child: Deno.ChildProcess): Promise<ReadableStreamDefaultReader<string>> {
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/ on ws:\/\//.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`lifcal serve stopped: ${text}`);
    text += value;
  }
  return reader;
}

Deno.test("a host killed (SIGKILL) mid-calibration and restarted on the same port: the calibration completes with identical results", async () => {
  const direct = await calibrated(new CpuBackend([2], DEFAULT_TWIN_CONFIG));
  const port = freePort();
  let server = startServe(port, "1-2");
  let log = await listening(server);
  const notices: string[] = [];
  const be = await RemoteBackend.open({
    url: `ws://127.0.0.1:${port}`,
    token: TOKEN,
    chips: ["sim-2"],
    onNotice: (m) => notices.push(m),
  });
  const running = calibrated(be);
  await new Promise((r) => setTimeout(r, 1500));
  server.kill("SIGKILL");
  assert.equal((await server.status).signal, "SIGKILL");
  await log.cancel();
  server = startServe(port, "1-2");
  log = await listening(server);
  try {
    const results = await running;
    assert.equal(be.stats.reconnects, 1);
    assert.match(notices.join("\n"), /reconnected to ws:\/\/127\.0\.0\.1:\d+ after \d+ attempts?/);
    assert.equal(results[0], direct[0]);
  } finally {
    server.kill("SIGTERM");
    await server.status;
    await log.cancel();
  }
});

Deno.test("a host that stops answering gives a timeout error naming the request", async () => {
  // The host's backend answers writes, then hangs on every measurement.
  const host = cpuHost(HOST_SEEDS, {
    open: (ix) => {
      const be = new CpuBackend(ix.map((i) => HOST_SEEDS[i]!), DEFAULT_TWIN_CONFIG);
      be.measure = () => new Promise(() => {});
      return Promise.resolve(be);
    },
  });
  const server = serveWebSocket(host, { port: 0 });
  try {
    const be = await RemoteBackend.open({
      url: server.url,
      token: TOKEN,
      chips: ["sim-1"],
      requestTimeoutSeconds: 1,
    });
    await be.write({ v_leak: 400 });
    await assert.rejects(
      () => be.measure({ kind: "resting-potential" }),
      (e) =>
        e instanceof RequestTimeoutError &&
        /^Request \d+ \(measure resting-potential\) to ws:\/\/\S+ got no answer within 1 s$/.test(
          e.message,
        ),
    );
    await be.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("a request the host refuses changes nothing: counters, configuration", async () => {
  const server = serveWebSocket(cpuHost(), { port: 0 });
  const conn = await Connection.connect(webSocketConnector(server.url));
  const t = { timeoutSeconds: 10 };
  try {
    await conn.request("auth", { token: TOKEN }, t);
    await conn.request("open", { chips: ["sim-1"] }, t);
    await conn.request("counters-restore", { counters: [5] }, t);
    const before = (await conn.request("config", {}, t)).config;
    for (
      const body of [
        { measurement: { kind: "spike-count", windowSeconds: -1 }, counters: [99] },
        { measurement: { kind: "resting-potential", reads: [1, 2] }, counters: [99] },
        { measurement: { kind: "spike-count", windowSeconds: 100 }, counters: [99] },
      ]
    ) {
      await assert.rejects(
        () => conn.request("measure", body, t),
        /windowSeconds|reads|integration steps/,
      );
    }
    await assert.rejects(
      () =>
        conn.request("search", {
          spec: {
            field: "v_leak",
            algorithm: { name: "binary" },
            target: [1, 2],
            measurement: { kind: "resting-potential" },
          },
          counters: [99],
        }, t),
      RangeError,
    );
    // A few kilobytes must not occupy the host for hours: 100 sub-searches per step.
    const sub = {
      field: "v_reset",
      algorithm: { name: "binary" },
      target: 70,
      measurement: { kind: "reset-potential" },
    };
    await assert.rejects(
      () =>
        conn.request("search", {
          spec: { ...sub, field: "v_leak", before: Array(100).fill(sub) },
          counters: [99],
        }, t),
      /runs 14412 measurements with its sub-searches, more than this host's 1000/,
    );
    await assert.rejects(
      () => conn.request("write", { patch: { v_leak: [new Int32Array(512), null] } }, t),
      /v_leak has 2 per-chip arrays|not an array/,
    );
    assert.deepEqual([...(await conn.request("counters", {}, t)).counters as Uint32Array], [5]);
    assert.deepEqual((await conn.request("config", {}, t)).config, before);
  } finally {
    await conn.close();
    await server.shutdown();
  }
});
