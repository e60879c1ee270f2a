-- Times the Lua pixel loop of examples/rgb_to_gray.lua against the same
-- conversion in C (pj_image_convert on one thread), in one run, and prints
-- medians and their ratio.  usage: bin/pixjit scripts/bench_pixel_loop.lua [w h reps]
local pj = require "pixjit"
package.path = "examples/?.lua;" .. package.path
local gray = require "rgb_to_gray"

local w, h, reps = tonumber(arg[1] or 2000), tonumber(arg[2] or 2600), tonumber(arg[3] or 15)
local src = pj.new(w, h, 3)
local p = src:pixels()
for i = 0, w * h * 3 - 1 do p[i] = (i * 7 + bit.rshift(i, 9)) % 256 end
local dst = pj.new(w, h, 1)

local function median(fn)
  fn()
  return pj.timeit(fn, { number = 1, ["repeat"] = reps, quiet = true, result = true }).median
end

pj.threads(1)
local c = median(function() src:convert(1):free() end)
local lua = median(function() gray.to_gray(src, dst) end)
pj.threads(0)
-- Same bytes from both.
local ref = src:convert(1)
local a, b = ref:pixels(), dst:pixels()
for i = 0, w * h - 1 do assert(a[i] == b[i], "Lua and C disagree at byte " .. i) end
print(string.format("pixel loop (RGB to gray, %dx%d, 1 thread, median of %d):", w, h, reps))
local portable = (os.getenv("PIXJIT_CPU_DISABLE") or ""):match("all")
print(string.format("  C    %8.2f ms%s", c * 1000, portable and " (the portable loop: PIXJIT_CPU_DISABLE=all)" or ""))
print(string.format("  Lua  %8.2f ms   Lua/C = %.2fx (target <= 2x)", lua * 1000, lua / c))
