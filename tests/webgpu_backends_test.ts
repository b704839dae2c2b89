/**
 * The WGSL kernels on each of Deno's graphics backends: Vulkan (lavapipe,
 * Debian's `mesa-vulkan-drivers`) and GL (llvmpipe through EGL). The two
 * compile the same WGSL differently — WGSL lets a compiler assume finite
 * floats, and lavapipe folds `x != x` to false where GL keeps it — so the
 * kernel tests run once per backend (`DENO_WEBGPU_BACKEND`), as a user on
 * either would. A backend without an adapter here is skipped with a note,
 * except under `LIFCAL_CI` (`.ci/run` installs both).
 */

import assert from "node:assert/strict";

const _ROOT = new URL("..", import.meta.url);

async function _hasAdapter(backend: string): Promise<boolean> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "const a = await navigator.gpu?.requestAdapter(); console.log(a ? 'adapter' : 'none');",
    ],
    env: { DENO_WEBGPU_BACKEND: backend },
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).includes("adapter");
}

for (const backend of ["vulkan", "gl"]) {
  Deno.test(`the WGSL kernels agree with the TS rules and the CPU on Deno's ${backend} backend`, async () => {
    if (!(await _hasAdapter(backend))) {
      const hint = backend === "vulkan" ? "mesa-vulkan-drivers" : "libegl-mesa0 libgl1-mesa-dri";
      if (Deno.env.get("LIFCAL_CI")) assert.fail(`no ${backend} adapter: install ${hint}`);
      console.log(`no ${backend} adapter here (Debian: ${hint}); skipped`);
      return;
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "tests/search_kernel_test.ts", "tests/webgpu_test.ts"],
      cwd: _ROOT,
      env: { DENO_WEBGPU_BACKEND: backend, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `${backend}:\n${text.slice(-3000)}`);
    const summary = text.match(/ok \| (\d+) passed/);
    assert.ok(summary && Number(summary[1]) >= 13, `${backend}: ${summary?.[0]}`);
    assert.ok(
      !/\d+ ignored/.test(text.match(/ok \|.*$/m)?.[0] ?? ""),
      `${backend}: tests were ignored`,
    );
  });
}
