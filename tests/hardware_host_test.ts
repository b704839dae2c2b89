/**
 * The Python hardware host skeleton (`examples/hardware_host/host.py`) against the TypeScript
 * side of protocol v1: the client and remote backend over its stdin/stdout, and raw frames for
 * what a client never sends (broken headers, other versions, oversized and truncated frames).
 * Skipped when `python3` is not on PATH.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { initialConfig } from "../backends/config.ts";
import { MEASUREMENT_KINDS } from "../backends/measurement.ts";
import { keyOfId } from "../backends/rng.ts";
import { Connection } from "../backends/remote/client.ts";
import {
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameReader,
  ProtocolError,
} from "../backends/remote/frame.ts";
import { stdioConnector } from "../backends/remote/link.ts";
import { configToWire, type RequestType } from "../backends/remote/messages.ts";
import { RemoteBackend } from "../backends/remote/remote_backend.ts";

const HOST = fileURLToPath(new URL("../examples/hardware_host/host.py", import.meta.url));
const CHIPS = ["hx-01", "hx-02"];

function _hasPython(): boolean {
  try {
    return new Deno.Command("python3", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const ignore = !_hasPython();
if (ignore) console.warn("hardware_host_test: python3 is not on PATH; skipping the host tests");

/** Resolves or rejects with `p`, or rejects after `seconds` naming `what`. */
async function _within<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No ${what} within ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The host as a raw child process: bytes in, decoded frames out. */
class RawHost {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #frames = new FrameReader();
  readonly #ready: Uint8Array[] = [];
  #done = false;

  constructor(args: readonly string[] = []) {
    this.#child = new Deno.Command("python3", {
      args: [HOST, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = this.#child.stdout.getReader();
  }

  async send(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
  }

  /** The next frame the host writes. */
  next(): Promise<Frame> {
    return _within(this.#next(), 10, "frame from the host");
  }

  async #next(): Promise<Frame> {
    for (;;) {
      const ready = this.#ready.shift();
      if (ready) return decodeFrame(ready);
      if (this.#done) throw new Error("The host closed its stdout");
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#done = true;
        continue;
      }
      for (const item of this.#frames.push(value)) {
        if (item instanceof ProtocolError) throw item;
        this.#ready.push(item);
      }
    }
  }

  /** Waits for the host to exit on its own (its stdout ends), then reports its status. */
  async exited(): Promise<Deno.CommandStatus> {
    while (!this.#done) {
      const { done } = await _within(this.#reader.read(), 10, "exit of the host");
      this.#done = done;
    }
    await this.#writer.close().catch(() => {});
    return await this.#child.status;
  }

  /** Closes the host's stdin and waits for it to exit. */
  async close(): Promise<Deno.CommandStatus> {
    await this.#writer.close().catch(() => {});
    return await this.exited();
  }
}

/** A frame whose header is the given text, as it goes on the wire. */
function _rawFrame(header: string): Uint8Array {
  const json = new TextEncoder().encode(header);
  const padded = 8 + json.length + ((8 - ((8 + json.length) % 8)) % 8);
  const out = new Uint8Array(padded);
  const view = new DataView(out.buffer);
  view.setUint32(0, padded - 4, true);
  view.setUint32(4, json.length, true);
  out.set(json, 8);
  return out;
}

function _isProtocolError(code: string, message?: RegExp) {
  return (e: unknown) =>
    e instanceof ProtocolError && e.code === code && (!message || message.test(e.message));
}

Deno.test({
  name: "hardware host skeleton: hello, open, config, counters, repeats and errors over stdio",
  ignore,
  async fn(t) {
    const conn = await Connection.connect(
      stdioConnector(["python3", HOST, "--chips", "hx-01,hx-02"]),
    );
    const ask = (type: string, body: Record<string, unknown> = {}, id?: number) =>
      conn.request(type as RequestType, body, { timeoutSeconds: 10, ...(id ? { id } : {}) });
    try {
      await t.step("hello describes a hardware host with FNV-1a keys", async () => {
        const hello = await ask("hello", { protocols: [1], client: "test" });
        assert.equal(hello.protocol, 1);
        assert.equal(hello.host, "hardware");
        assert.equal(hello.server, "lifcal-hardware-host-skeleton/1");
        assert.equal(hello.twin, null);
        assert.deepEqual(hello.chips, CHIPS.map((id) => ({ id, key: keyOfId(id) })));
        assert.deepEqual(hello.capabilities, {
          measurements: [...MEASUREMENT_KINDS],
          search: false,
          truth: false,
        });
        const limits = hello.limits as Record<string, number>;
        assert.equal(limits.max_frame_bytes, 64 * 1024 * 1024);
        assert.equal(limits.idle_timeout_s, 30);
        await assert.rejects(
          ask("hello", { protocols: [2] }),
          _isProtocolError("unsupported-version"),
        );
      });

      await t.step(
        "chip requests before open, unknown chips and unknown types are refused",
        async () => {
          await assert.rejects(ask("counters"), _isProtocolError("not-open"));
          await assert.rejects(ask("search", { spec: {} }), _isProtocolError("not-open"));
          await assert.rejects(
            ask("open", { chips: ["hx-09"] }),
            _isProtocolError("no-such-chip", /hx-01, hx-02/),
          );
          await assert.rejects(ask("frobnicate"), _isProtocolError("unknown-type", /frobnicate/));
          assert.deepEqual(await ask("auth", { token: "ignored over stdio" }), {});
        },
      );

      await t.step("open gives the power-on configuration and zero counters", async () => {
        const opened = await ask("open", { chips: null, wait_s: 0, reset: true });
        assert.deepEqual(opened.chips, CHIPS.map((id) => ({ id, key: keyOfId(id) })));
        assert.deepEqual(opened.counters, new Uint32Array([0, 0]));
        assert.deepEqual(opened.config, configToWire([initialConfig(), initialConfig()]));
        assert.deepEqual((await ask("config")).config, opened.config);
        await assert.rejects(ask("open", {}), _isProtocolError("bad-request", /already/));
      });

      await t.step(
        "counters-restore sets the counters; a repeated id gets the first answer",
        async () => {
          assert.deepEqual(
            (await ask("counters-restore", { counters: [7, 9] })).counters,
            new Uint32Array([7, 9]),
          );
          assert.deepEqual((await ask("counters")).counters, new Uint32Array([7, 9]));
          await assert.rejects(
            ask("counters-restore", { counters: [1] }),
            _isProtocolError("bad-request"),
          );
          await assert.rejects(
            ask("counters-restore", { counters: [1, -1] }),
            _isProtocolError("bad-request"),
          );
          const first = await ask(
            "counters-restore",
            { counters: new Uint32Array([1, 2]) },
            900_001,
          );
          assert.deepEqual(first.counters, new Uint32Array([1, 2]));
          const again = await ask(
            "counters-restore",
            { counters: new Uint32Array([3, 4]) },
            900_001,
          );
          assert.deepEqual(again.counters, new Uint32Array([1, 2]));
          assert.deepEqual((await ask("counters")).counters, new Uint32Array([1, 2]));
        },
      );

      await t.step(
        "a bad patch is a RangeError or TypeError naming the field and elements",
        async () => {
          await assert.rejects(
            ask("write", { patch: { v_leak: 1023 } }),
            (e) =>
              e instanceof RangeError && /v_leak must lie in 0\.\.1022, got 1023/.test(e.message),
          );
          await assert.rejects(
            ask("write", { patch: { v_leak: NaN } }),
            (e) => e instanceof RangeError && /v_leak must be an integer, got NaN/.test(e.message),
          );
          await assert.rejects(
            ask("write", { patch: { v_leek: 400 } }),
            (e) => e instanceof TypeError && /Unknown configuration field "v_leek"/.test(e.message),
          );
          const row = new Int32Array(1024).fill(400);
          row[517] = 2000;
          await assert.rejects(
            ask("write", { patch: { v_threshold: row } }),
            (e) =>
              e instanceof RangeError &&
              /v_threshold .*neurons 5 of chip 1 are outside \(first: 2000\)/.test(e.message),
          );
          await assert.rejects(
            ask("write", { patch: { cadc_channel_offset: [1, 2, 3] } }),
            (e) => e instanceof RangeError && /cadc_channel_offset has 3 values/.test(e.message),
          );
          await assert.rejects(ask("write", { patch: { v_leak: 400 }, chips: [1, 0] }), RangeError);
          await assert.rejects(ask("write", { patch: [1] }), _isProtocolError("bad-request"));
        },
      );

      await t.step(
        "a valid write reaches the stand-in chip: not-connected, nothing changed",
        async () => {
          await assert.rejects(
            ask("write", { patch: { v_leak: 500, leak_division: true } }),
            _isProtocolError("not-connected", /Chip\.write_/),
          );
          await assert.rejects(
            ask("write", { patch: { syn_i_bias_dac: [600, 610, 620, 630] }, chips: [1] }),
            _isProtocolError("not-connected", /Chip\.write_capmem/),
          );
          assert.deepEqual(
            (await ask("config")).config,
            configToWire([initialConfig(), initialConfig()]),
          );
          assert.deepEqual(await ask("write", { patch: {} }), { config: {} });
        },
      );

      await t.step(
        "measure checks kind, settings and counters, then reaches the stand-in chip",
        async () => {
          const counters = new Uint32Array([1, 2]);
          await assert.rejects(
            ask("measure", { measurement: { kind: "resting-potential" }, counters }),
            _isProtocolError("not-connected", /Chip\.read_cadc/),
          );
          await assert.rejects(
            ask("measure", {
              measurement: { kind: "tau-mem", windowSeconds: 30e-6 },
              counters,
              chips: [1],
            }),
            _isProtocolError("not-connected", /Chip\.record_madc/),
          );
          await assert.rejects(
            ask("measure", { measurement: { kind: "resting-potenial" }, counters }),
            (e) => e instanceof TypeError && /resting-potenial/.test(e.message),
          );
          await assert.rejects(
            ask("measure", { measurement: { kind: "spike-count", windowSeconds: -1 }, counters }),
            (e) => e instanceof RangeError && /windowSeconds/.test(e.message),
          );
          await assert.rejects(
            ask("measure", { measurement: { kind: "cadc-reference" }, counters }),
            (e) => e instanceof RangeError && /code/.test(e.message),
          );
          await assert.rejects(
            ask("measure", { measurement: { kind: "resting-potential" }, counters: [1] }),
            _isProtocolError("bad-request", /counters/),
          );
          await assert.rejects(
            ask("measure", { measurement: { kind: "spike-count", windowSeconds: 1e4 }, counters }),
            _isProtocolError("too-expensive"),
          );
          assert.deepEqual((await ask("counters")).counters, counters);
        },
      );

      await t.step("search and truth are unsupported", async () => {
        await assert.rejects(
          ask("search", { spec: {}, counters: [0, 0] }),
          _isProtocolError("unsupported"),
        );
        await assert.rejects(ask("truth"), _isProtocolError("unsupported"));
      });

      await t.step("close answers and the host exits", async () => {
        assert.deepEqual(await ask("close"), {});
        await conn.close();
        assert.match(conn.down ?? "", /exited$/);
      });
    } finally {
      await conn.close();
    }
  },
});

/** A lab's host: host.py with its `Chip` filled in by a stand-in that answers (no hardware). */
const _FILLED_IN = `
import sys
sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, sys.argv.pop(1))
import host

class FilledIn(host.Chip):
    def reinit(self): pass
    def write_capmem(self, cells): host.log(f"capmem {self.id} {sorted(cells)}")
    def write_digital(self, settings): host.log(f"digital {self.id} {sorted(settings)}")
    def read_cadc(self, kind, settings):
        return [float(settings.get("code", 100 + int(self.id[-1])))] * host.MEASUREMENTS[kind][0]
    def record_madc(self, kind, settings):
        w = settings.get("windowSeconds", 30e-6)
        return [x / 3 for x in w] if isinstance(w, list) else [w / 3] * 512

host.Chip = FilledIn
sys.exit(host.main(sys.argv[1:]))
`;

Deno.test({
  name: "hardware host skeleton: with its Chip filled in, writes and measurements answer",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lifcal-hardware-host-" });
    const script = `${dir}/lab_host.py`;
    await Deno.writeTextFile(script, _FILLED_IN);
    const here = fileURLToPath(new URL("../examples/hardware_host/", import.meta.url));
    const conn = await Connection.connect(
      stdioConnector(["python3", script, here, "--chips", "hx-01,hx-02"]),
    );
    const ask = (type: RequestType, body: Record<string, unknown> = {}) =>
      conn.request(type, body, { timeoutSeconds: 10 });
    try {
      await ask("open", { reset: true });
      assert.deepEqual(await ask("write", { patch: { v_leak: 500, leak_division: 0 } }), {
        config: { v_leak: new Int32Array(1024).fill(500) },
      });
      assert.deepEqual(await ask("write", { patch: { v_leak: 500 } }), { config: {} });
      const dac = await ask("write", { patch: { syn_i_bias_dac: [1, 2, 3, 4] }, chips: [1] });
      assert.deepEqual(dac, {
        config: { syn_i_bias_dac: new Int32Array([600, 600, 600, 600, 1, 2, 3, 4]) },
      });
      const config = (await ask("config")).config as Record<string, Int32Array>;
      assert.equal(config.v_leak![1023], 500);
      assert.deepEqual(
        config.syn_i_bias_dac,
        new Int32Array([600, 600, 600, 600, 1, 2, 3, 4]),
      );

      const rest = await ask("measure", {
        measurement: { kind: "resting-potential" },
        chips: [1],
        counters: new Uint32Array([5, 6]),
      });
      const readings = rest.readings as Float32Array;
      assert.ok(readings instanceof Float32Array && readings.length === 1024);
      assert.ok(readings.subarray(0, 512).every(Number.isNaN), "chip 0 was left out: NaN");
      assert.ok(readings.subarray(512).every((x) => x === 102));
      assert.deepEqual(rest.counters, new Uint32Array([5, 7]));

      const window = new Float64Array(1024).map((_, i) => (i < 512 ? 30e-6 : 60e-6));
      const tau = await ask("measure", {
        measurement: { kind: "tau-mem", windowSeconds: window },
        counters: new Uint32Array([5, 7]),
      });
      const taus = tau.readings as Float32Array;
      assert.ok(Math.abs(taus[0]! - 10e-6) < 1e-9 && Math.abs(taus[1023]! - 20e-6) < 1e-9);
      assert.deepEqual(tau.counters, new Uint32Array([6, 8]));
      const ref = await ask("measure", {
        measurement: { kind: "cadc-reference", code: 310 },
        counters: new Uint32Array([6, 8]),
      });
      assert.deepEqual(ref.readings, new Float32Array(2048).fill(310));
      await assert.rejects(
        ask("measure", {
          measurement: { kind: "spike-count", windowSeconds: 1e-3 },
          counters: [0, 0],
        }),
        _isProtocolError("not-connected", /Chip\.count_spikes/),
      );
      assert.deepEqual((await ask("counters")).counters, new Uint32Array([7, 9]));
      await ask("close");
    } finally {
      await conn.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "hardware host skeleton: broken frames get error frames; the stream survives them",
  ignore,
  async fn() {
    const host = new RawHost(["--chips", "hx-01,hx-02"]);
    try {
      await host.send(_rawFrame('{"v":1,"type":"hello","id":3,"body":'));
      let f = await host.next();
      assert.equal(f.type, "error");
      assert.equal(f.id, 0);
      assert.equal(f.body.code, "malformed");
      assert.equal(f.body.request, null);

      await host.send(encodeFrame("hello", 77, { protocols: [1] }, 2));
      f = await host.next();
      assert.deepEqual([f.type, f.id, f.body.code, f.body.request], [
        "error",
        77,
        "unsupported-version",
        77,
      ]);

      await host.send(
        _rawFrame('{"v":1,"type":"hello","id":8,"body":{"x":{"$array":0}},"arrays":[]}'),
      );
      f = await host.next();
      assert.deepEqual([f.id, f.body.code], [8, "malformed"]);
      await host.send(_rawFrame('{"v":1,"type":"Hello!","id":9,"body":{}}'));
      f = await host.next();
      assert.deepEqual([f.id, f.body.code], [9, "malformed"]);
      await host.send(_rawFrame('{"v":1,"type":"frobnicate","id":10,"body":{}}'));
      f = await host.next();
      assert.deepEqual([f.id, f.body.code], [10, "unknown-type"]);

      // Still in step: two requests in one write, answered in order.
      const hello = encodeFrame("hello", 11, { protocols: [1] });
      const open = encodeFrame("open", 12, { chips: ["hx-02"] });
      await host.send(new Uint8Array([...hello, ...open]));
      f = await host.next();
      assert.deepEqual([f.type, f.id, f.body.host], ["result", 11, "hardware"]);
      f = await host.next();
      assert.deepEqual([f.type, f.id], ["result", 12]);
      assert.deepEqual(f.body.chips, [{ id: "hx-02", key: keyOfId("hx-02") }]);
      assert.deepEqual(f.body.config, configToWire([initialConfig()]));
      // A repeat answers byte for byte, even for an error.
      await host.send(
        encodeFrame("measure", 13, { measurement: { kind: "tau-men" }, counters: [0] }),
      );
      const first = await host.next();
      await host.send(
        encodeFrame("measure", 13, { measurement: { kind: "resting-potential" }, counters: [0] }),
      );
      assert.deepEqual(await host.next(), first);
      assert.equal(first.body.code, "bad-request");
      assert.equal(first.body.error, "TypeError");
    } finally {
      const status = await host.close();
      assert.equal(status.code, 0, "stdin EOF ends the host normally");
    }
  },
});

Deno.test({
  name: "hardware host skeleton: an oversized length prefix is refused unread and the host exits",
  ignore,
  async fn() {
    const host = new RawHost();
    try {
      const bytes = new Uint8Array(12);
      new DataView(bytes.buffer).setUint32(0, 0xffffff00, true);
      await host.send(bytes);
      const f = await host.next();
      assert.deepEqual([f.type, f.id, f.body.code, f.body.request], [
        "error",
        0,
        "frame-too-large",
        null,
      ]);
      assert.match(String(f.body.message), /4294967040/);
      const status = await host.exited();
      assert.equal(status.success, false);
    } finally {
      await host.close();
    }
  },
});

Deno.test({
  name: "hardware host skeleton: a truncated frame times out and the host exits",
  ignore,
  async fn() {
    const host = new RawHost(["--idle-timeout", "0.3"]);
    try {
      await host.send(encodeFrame("hello", 1, {}).subarray(0, 20));
      const f = await host.next();
      assert.equal(f.body.code, "malformed");
      assert.match(String(f.body.message), /Truncated frame: 20 bytes/);
      assert.equal((await host.exited()).success, false);
    } finally {
      await host.close();
    }
  },
});

Deno.test({
  name: "hardware host skeleton: RemoteBackend opens it; measurements say not-connected",
  ignore,
  async fn() {
    const be = await RemoteBackend.open({ bridge: ["python3", HOST], reconnectSeconds: 0 });
    try {
      assert.deepEqual(be.chips, [{ id: "hx-01" }]);
      assert.deepEqual(be.keys, new Uint32Array([keyOfId("hx-01")]));
      assert.equal(be.hello.host, "hardware");
      assert.equal(be.truth, undefined);
      assert.deepEqual(await be.config(), [initialConfig()]);
      await assert.rejects(
        be.measure({ kind: "resting-potential" }),
        _isProtocolError("not-connected", /Chip\.read_cadc/),
      );
      await assert.rejects(be.write({ v_leak: 300 }), _isProtocolError("not-connected"));
      assert.deepEqual(be.counters(), new Uint32Array([0]));
    } finally {
      await be.close();
    }
  },
});
