import assert from "node:assert/strict";
import { join } from "node:path";
import { decodePng } from "./_png.ts";
import { lifcal, logTime } from "./_cli.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

const _FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--enable-logging=stderr",
  "--v=0",
  "--window-size=1200,2000",
];

async function _chromium(profile: string, args: string[]) {
  const out = await new Deno.Command(CHROMIUM!, {
    args: [..._FLAGS, `--user-data-dir=${profile}`, ...args],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "report.html renders in headless Chromium without errors and is not blank",
  ignore: CHROMIUM === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lifcal-browser-" });
    try {
      const out = join(dir, "out");
      const run = await lifcal([
        "calibrate",
        "--chips",
        "1",
        "--backend",
        "cpu",
        "--no-refine",
        "--set",
        "leak=110",
        "--set",
        "threshold=120",
        "--leak-over-threshold",
        "100kHz",
        "--quiet",
        "--out",
        out,
      ]);
      logTime("calibrate --leak-over-threshold", run);
      assert.ok(run.code === 0 || run.code === 1, run.stderr);
      const page = `file://${join(out, "report.html")}`;
      const html = await Deno.readTextFile(join(out, "report.html"));
      // Self-contained: nothing fetched from anywhere.
      assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:|\/\/)/i);
      assert.doesNotMatch(html, /@import|url\(\s*["']?http/i);
      assert.match(html, /Leak over threshold/);

      const dom = await _chromium(join(dir, "profile-dom"), ["--dump-dom", page]);
      assert.equal(dom.code, 0, dom.stderr);
      assert.match(dom.stdout, /data-rendered="yes"/);
      // A script error would have replaced the title with the report's error marker.
      assert.equal(/<title>([^<]*)<\/title>/.exec(dom.stdout)?.[1], "lifcal report: 1 chip");
      assert.ok((dom.stdout.match(/<svg/g) ?? []).length >= 8);

      const png = join(dir, "report.png");
      const shot = await _chromium(join(dir, "profile-shot"), [`--screenshot=${png}`, page]);
      assert.equal(shot.code, 0, shot.stderr);
      // Console messages of the page (errors, uncaught exceptions) are logged as CONSOLE lines.
      assert.doesNotMatch(`${dom.stderr}\n${shot.stderr}`, /CONSOLE[:(]\d+|Uncaught/);

      const bytes = await Deno.readFile(png);
      assert.ok(bytes.length > 20_000, `screenshot has only ${bytes.length} bytes`);
      const image = decodePng(bytes);
      assert.equal(image.width, 1200);
      const colours = new Set<number>();
      let dark = 0;
      let pixels = 0;
      for (let i = 0; i < image.pixels.length; i += image.channels * 7) {
        const [r, g, b] = [image.pixels[i]!, image.pixels[i + 1]!, image.pixels[i + 2]!];
        colours.add((r << 16) | (g << 8) | b);
        if (r + g + b < 384) dark++;
        pixels++;
      }
      assert.ok(colours.size > 50, `only ${colours.size} colours`);
      assert.ok(dark / pixels > 0.01 && dark / pixels < 0.6, `dark fraction ${dark / pixels}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
