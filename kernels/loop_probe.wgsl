// loop_probe.wgsl — counts to `limit` in one invocation and stores how far it
// got. llvmpipe silently stops every loop of an invocation after 65 535
// iterations in total; a result below `limit` reveals such a cap.
//
// Bindings: 0 the limit (uniform u32), 1 the count reached (storage u32).
// Dispatch: one workgroup of one invocation.

@group(0) @binding(0) var<uniform> limit: u32;
@group(0) @binding(1) var<storage, read_write> reached: u32;

@compute @workgroup_size(1)
fn countLoop() {
  var n = 0u;
  for (var i = 0u; i < limit; i++) {
    n = n + 1u;
  }
  reached = n;
}
