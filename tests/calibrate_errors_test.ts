import assert from "node:assert/strict";
import { calibrate, openBackend } from "../mod.ts";

Deno.test("calibrate rejects bad targets before touching the chips", async (t) => {
  const be = await openBackend({ backend: "cpu", chips: 1 });
  const before = await be.config();
  const cases: [string, unknown, ErrorConstructor, RegExp][] = [
    ["a time without a unit", { tau_mem: 10 }, TypeError, /tau_mem/],
    ["tau_mem below 0.1 µs", { tau_mem: "0.05 us" }, RangeError, /tau_mem/],
    ["tau_syn above 100 µs", { tau_syn: "200 us" }, RangeError, /tau_syn/],
    ["a 511-neuron array", { leak: new Array(511).fill(80) }, RangeError, /leak/],
    [
      "a refractory time no clock reaches",
      { refractory_time: "100 ms" },
      RangeError,
      /larger than feasible/,
    ],
    ["a capacitance of 64", { membrane_capacitance: 64 }, RangeError, /membrane_capacitance/],
    ["an unknown field", { taumem: "10 us" }, TypeError, /taumem/],
  ];
  for (const [name, target, type, message] of cases) {
    await t.step(name, async () => {
      await assert.rejects(
        () => calibrate(be, target as never),
        (e: Error) => e instanceof type && message.test(e.message),
      );
      assert.deepEqual(await be.config(), before);
      assert.equal(be.counters()[0], 0);
    });
  }
  await assert.rejects(() => calibrate(be, undefined, { algorithm: "bogus" as never }), RangeError);
});

Deno.test("a target outside calix's standard ranges is a warning kept in the result", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1 });
  const [r] = await calibrate(be, { leak: 45, reset: 40 }, { refine: false });
  assert.ok(r!.warnings.some((w) => /leak .*standard range/.test(w)), r!.warnings.join("\n"));
});
