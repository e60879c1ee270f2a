-- `make bench`: pixjit against the Python/NumPy/OpenCV code users migrate
-- from, measured in the same run on the same files, medians of repeated
-- runs, ratios printed.  References that cannot run here (no python3-opencv,
-- no libopencv-dev) are reported as skipped.
-- usage: bin/pixjit scripts/bench.lua [--only SECTION,...] [--skip SECTION,...] [--label TEXT] [data_dir]
-- sections: pixel, colors, crop, pack, batch, codec, kernels
local ffi = require "ffi"
local pj = require "pixjit"

local only, skip, label, data = nil, {}, nil, nil
do
  local i = 1
  while arg[i] do
    if arg[i] == "--only" then
      only = {}
      for name in arg[i + 1]:gmatch("[^,]+") do only[name] = true end
      i = i + 2
    elseif arg[i] == "--skip" then
      for name in arg[i + 1]:gmatch("[^,]+") do skip[name] = true end
      i = i + 2
    elseif arg[i] == "--label" then
      label, i = arg[i + 1], i + 2
    else
      data, i = arg[i], i + 1
    end
  end
end
data = data or os.getenv("PIXJIT_DATA") or "../shared/data"
local REPS = tonumber(os.getenv("BENCH_REPS") or 21)
local function wanted(name) return not skip[name] and (not only or only[name]) end
-- Each section starts as a script of its own would.  What a section kept
-- is garbage once its function returns, and so are the closures its
-- traces had compiled in (jit.flush): otherwise a later section's Lua heap,
-- and with it pixjit's memory step (16 times the heap), would carry an
-- earlier one's quad tables.
local function section(fn)
  fn()
  jit.flush()
  collectgarbage()
end

ffi.cdef [[
typedef struct pj_rusage { long t[4]; long maxrss; long rest[13]; } pj_rusage;
int getrusage(int who, pj_rusage *usage);
]]
local function peak_rss_mb()
  local ru = ffi.new("pj_rusage")
  ffi.C.getrusage(0, ru)
  return tonumber(ru.maxrss) / 1024
end

-- Output of a shell command, or nil when it printed nothing.
local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local out = p:read("*a")
  p:close()
  return out ~= "" and out or nil
end

-- Median milliseconds of REPS single calls, after a warm-up of a tenth of
-- a second (a virtual CPU can take that long to reach its speed after
-- idling; the Python references warm up the same way).
local function median(fn)
  local t0 = pj.now()
  repeat fn() until pj.now() - t0 >= 0.1
  return pj.timeit(fn, { number = 1, ["repeat"] = REPS, quiet = true, result = true }).median * 1000
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

local have_cv2 = sh("/usr/bin/python3 -c 'import cv2, numpy; print(1)'") ~= nil
print(string.format("pixjit %s bench on %d CPUs (threads default %d); medians of %d runs%s",
                    pj.version, tonumber(sh("nproc") or "0") or 0, pj.threads(), REPS,
                    label and " -- " .. label or ""))
if not have_cv2 then print("note: python3-opencv/numpy not available: reference columns skipped") end
if not exists(data .. "/logo_rgba.png") then
  print("note: " .. data .. " is absent: only the pixel-loop benchmark runs")
end

-- 1. Pixel loop in Lua vs the same loop in C: the C side runs the
-- portable (scalar) code, as a C programmer would write the loop; the
-- vector kernel pixjit itself uses is timed beside it.
section(function()
  if not wanted("pixel") then return end
  print()
  io.stdout:flush()
  os.execute("PIXJIT_CPU_DISABLE=all " .. arg[-1] .. " scripts/bench_pixel_loop.lua")
  local src = pj.new(2000, 2600, 3, { 30, 140, 220 })
  pj.threads(1)
  local simd = median(function() src:convert(1):free() end)
  pj.threads(0)
  print(string.format("  pixjit's vector kernel (to_gray on this CPU, 1 thread) %.2f ms", simd))
end)

-- 2. Main colours.
local logo = data .. "/logo_rgba.png"
section(function()
  if not (wanted("colors") and exists(logo)) then return end
  print("\nmain colours, " .. logo .. " (N = 6)")
  -- Median ms of the count of im at 1 and 2 threads; the NumPy reference
  -- on the file at path (nil without cv2 and NumPy).
  local function count_ms(im)
    local t = {}
    for _, th in ipairs { 1, 2 } do
      pj.threads(th)
      t[th] = median(function() im:main_colors(6) end)
    end
    pj.threads(0)
    return t
  end
  local function numpy_ref(path, reps)
    local out = have_cv2 and sh(string.format("/usr/bin/python3 scripts/bench/colors_ref.py %s 6 %d", path, reps))
    return out and require("cjson").decode(out) or nil
  end
  local img = pj.load(logo)
  local results = count_ms(img)
  local full = median(function()
    local im = pj.load(logo)
    pj.palette(im:main_colors(6))
  end)
  local ref = numpy_ref(logo, math.max(7, math.floor(REPS / 2)))
  print(string.format("  pixjit count, decoded image: %.2f ms (1 thread), %.2f ms (2 threads)", results[1], results[2]))
  print(string.format("  pixjit load + count + palette: %.2f ms", full))
  if ref then
    local best = math.min(ref.count.naive, ref.count.fast, ref.count.faster)
    local best_full = math.min(ref.full.naive, ref.full.fast, ref.full.faster)
    print(string.format("  NumPy count: naive %.2f, fast %.2f, faster %.2f ms", ref.count.naive, ref.count.fast, ref.count.faster))
    print(string.format("  NumPy imread + count + palette: naive %.2f, fast %.2f, faster %.2f ms",
                        ref.full.naive, ref.full.fast, ref.full.faster))
    print(string.format("  ratio count vs fastest NumPy: %.1fx at 1 thread, %.1fx at 2 threads (target >= 25x)",
                        best / results[1], best / results[2]))
    print(string.format("  ratio load+count+palette vs fastest NumPy: %.2fx (target >= 4x)", best_full / full))
    print(string.format("  peak RSS: pixjit process %.0f MB, NumPy process %.0f MB", peak_rss_mb(), ref.peak_rss_mb))
  end
  -- Stickers with more colours, made from the bundled images: the sticker
  -- enlarged 2x (every edge blended), and the photo cut to an ellipse (no
  -- two neighbours alike, so no runs to count); and small ones (a chat
  -- sticker is 512x512 at most), where the per-call costs weigh most.
  local function ellipse(ph)
    local w, h, p = ph.width, ph.height, ph.data
    for y = 0, h - 1 do
      local row = p + y * ph.stride
      for x = 0, w - 1 do
        local dx, dy = (x + 0.5) / w * 2 - 1, (y + 0.5) / h * 2 - 1
        if dx * dx + dy * dy > 1 then row[4 * x + 3] = 0 end
      end
    end
    return ph
  end
  local stickers = { { "sticker enlarged 2x", function() return img:resize(img.width * 2, img.height * 2) end },
                     { "sticker shrunk to 320 wide", function()
                       return img:resize(320, math.floor(img.height * 320 / img.width + 0.5), { interpolation = "area" })
                     end } }
  if exists(data .. "/photo.jpg") then
    stickers[#stickers + 1] = { "photo cut to an ellipse", function() return ellipse(pj.load(data .. "/photo.jpg"):convert(4)) end }
    stickers[#stickers + 1] = { "photo cut to an ellipse, 512 wide", function()
      local ph = pj.load(data .. "/photo.jpg")
      return ellipse(ph:resize(512, math.floor(ph.height * 512 / ph.width + 0.5), { interpolation = "area" }):convert(4))
    end }
  end
  os.execute("mkdir -p build/bench")
  for i, st in ipairs(stickers) do
    local im = st[2]()
    local path = string.format("build/bench/colors_%d.png", i)
    im:save(path)
    local t = count_ms(im)
    local line = string.format("  %s, %dx%d, %d distinct colours: %.3f ms (1 thread), %.3f ms (2 threads)",
                               st[1], im.width, im.height, im:main_colors(1).distinct, t[1], t[2])
    local r = numpy_ref(path, math.max(7, math.floor(REPS / 3)))
    if r then
      local best = math.min(r.count.naive, r.count.fast, r.count.faster)
      line = line .. string.format("; NumPy fastest %.2f ms -> %.1fx, %.1fx (target >= 25x)", best, best / t[1], best / t[2])
    end
    print(line)
  end
end)

-- 3. Perspective crop of the 1,491 word quads.
local page, qpath = data .. "/page_warped.png", data .. "/page_warped.quads.json"
section(function()
  if not (wanted("crop") and exists(page)) then return end
  print("\nperspective crop, " .. page .. " with its quads")
  local img = pj.load(page)
  local quads = pj.read_quads(qpath)
  local freed, gc = {}, {}
  for _, t in ipairs { 1, 2 } do
    pj.threads(t)
    -- Crops used and dropped each round, as a pipeline does (their memory
    -- is reused, like the C++ loop's output Mats) ...
    freed[t] = median(function()
      local crops = img:crop_quads(quads)
      for _, c in ipairs(crops) do if c then c:free() end end
    end)
    -- ... and left to the garbage collector.
    gc[t] = median(function() img:crop_quads(quads) end)
  end
  pj.threads(0)
  local cpp, py = {}, {}
  local qtxt = os.tmpname()
  local f = io.open(qtxt, "w")
  for _, q in ipairs(quads) do
    f:write(string.format("%s %s %s %s %s %s %s %s\n", q[1][1], q[1][2], q[2][1], q[2][2], q[3][1], q[3][2], q[4][1], q[4][2]))
  end
  f:close()
  local bin = "build/bench/crop_ref"
  if sh("pkg-config --exists opencv4 && echo y") then
    os.execute("mkdir -p build/bench")
    sh("g++ -O2 -fopenmp -std=c++17 scripts/bench/crop_ref.cpp -o " .. bin .. " $(pkg-config --cflags --libs opencv4)")
  end
  for _, t in ipairs { 1, 2 } do
    if exists(bin) then cpp[t] = tonumber(sh(string.format("%s %s %s %d %d", bin, page, qtxt, t, REPS))) end
  end
  if have_cv2 then py[1] = tonumber(sh(string.format("/usr/bin/python3 scripts/bench/crop_ref.py %s %s %d", page, qpath, math.max(5, math.floor(REPS / 3))))) end
  os.remove(qtxt)
  for _, t in ipairs { 1, 2 } do
    local line = string.format("  %d thread%s: pixjit %.2f ms (crops freed), %.2f ms (left to GC)", t, t > 1 and "s" or " ", freed[t], gc[t])
    if cpp[t] then line = line .. string.format("; C++ OpenMP loop %.2f ms -> %.2fx", cpp[t], cpp[t] / freed[t]) end
    print(line)
  end
  if not cpp[1] then print("  C++ OpenMP loop: skipped (libopencv-dev not available)") end
  if py[1] then
    print(string.format("  Python loop (cv2, 1 thread) %.2f ms -> pixjit %.1fx faster at 1 thread, %.1fx at 2 (target >= 10x)",
                        py[1], py[1] / freed[1], py[1] / freed[2]))
  else
    print("  Python loop: skipped (python3-opencv not available)")
  end
  print("  targets: >= 1.5x the C++ loop at 1 and 2 threads")
end)

-- 4. Crops to a model batch: crop + resize + normalise + pack.
section(function()
  if not (wanted("pack") and exists(page)) then return end
  print("\ncrop + resize to height 32 (width <= 320) + normalise + pack, " .. page)
  local img = pj.load(page)
  local quads = pj.read_quads(qpath)
  local function pipeline()
    local crops = img:crop_quads(quads)
    local t = pj.pack(crops, { height = 32, max_width = 320, mean = 0.5, std = 0.5 })
    for _, c in ipairs(crops) do c:free() end
    t:free()
  end
  local ours = {}
  for _, th in ipairs { 1, 2 } do
    pj.threads(th)
    ours[th] = median(pipeline)
  end
  pj.threads(0)
  local ref = have_cv2 and tonumber(sh(string.format("/usr/bin/python3 scripts/bench/pack_ref.py %s %s %d",
                                                     page, qpath, math.max(5, math.floor(REPS / 3)))))
  for _, th in ipairs { 1, 2 } do
    local line = string.format("  %d thread%s: pixjit %.2f ms", th, th > 1 and "s" or " ", ours[th])
    if ref then line = line .. string.format("; Python + OpenCV + NumPy %.2f ms -> %.1fx", ref, ref / ours[th]) end
    print(line)
  end
  if ref then
    print("  target: >= 10x at the default thread count (" .. pj.threads() .. ")")
  else
    print("  Python reference: skipped (python3-opencv not available)")
  end
end)

-- 5. A batch job over a directory: images per second.
section(function()
  if not wanted("batch") then return end
  local dir, out = "build/bench/stickers", "build/bench/batch_out"
  os.execute("rm -rf " .. dir .. " " .. out .. " build/bench/batch_ref_out && mkdir -p " .. dir)
  os.execute(arg[-1] .. " scripts/make_samples.lua build/bench/sample >/dev/null")
  local base = pj.load("build/bench/sample/sticker.png")
  local n = 120
  for i = 1, n do
    local w = 320 + (i % 5) * 160
    base:resize(w, math.floor(w * 3 / 4)):save(string.format("%s/s%03d.png", dir, i), { compression = 3 })
  end
  print(string.format("\nbatch: examples/jobs/main_colors.lua over %d stickers (320x240 to 960x720), all cores", n))
  local function run_ours()
    os.execute("rm -rf " .. out)
    local t0 = pj.now()
    os.execute(arg[-1] .. " --batch examples/jobs/main_colors.lua --input " .. dir .. " --output " .. out .. " --quiet")
    return pj.now() - t0
  end
  local ours = {}
  for i = 1, 3 do ours[i] = run_ours() end
  table.sort(ours)
  -- Both timed end to end, as a user runs them (process start, imports,
  -- the pool's or workers' start-up included).
  local line = string.format("  pixjit --batch: %.2f s, %.0f images/s", ours[2], n / ours[2])
  if have_cv2 then
    local ref, inner = {}, {}
    for i = 1, 3 do
      local t0 = pj.now()
      inner[i] = tonumber(sh("/usr/bin/python3 scripts/bench/batch_ref.py " .. dir .. " build/bench/batch_ref_out"))
      ref[i] = pj.now() - t0
    end
    if inner[3] then
      table.sort(ref)
      table.sort(inner)
      line = line .. string.format("; Python multiprocessing.Pool %.2f s (%.2f s inside the pool), %.0f images/s -> %.1fx (%.1fx against the pool time alone; target >= 3x)",
                                   ref[2], inner[2], n / ref[2], ref[2] / ours[2], inner[2] / ours[2])
    end
  else
    line = line .. "; Python reference skipped (python3-opencv not available)"
  end
  print(line)
end)

-- 6. Codecs: PNG decode, saving crops, the load -> crop -> files pipeline,
-- JPEG shrink-on-load.
section(function()
  if not (wanted("codec") and exists(page)) then return end
  -- /dev/shm is a tmpfs on Linux; elsewhere the "tmpfs" figures are disk.
  local tmpfs = exists("/dev/shm") and "/dev/shm/pixjit-bench" or "build/bench/tmpfs"
  local disk = "build/bench/disk"
  os.execute("mkdir -p " .. tmpfs .. " " .. disk)
  print("\ncodecs (" .. pj.threads() .. " threads; saves to " .. tmpfs .. " and to " .. disk .. ")")
  local ref = have_cv2 and sh(string.format("/usr/bin/python3 scripts/bench/codec_ref.py %s %s %s %d",
                                             data, disk, tmpfs, math.max(7, math.floor(REPS / 2))))
  ref = ref and require("cjson").decode(ref)
  for _, name in ipairs { "page.png", "page_warped.png", "logo_rgba.png" } do
    local f = data .. "/" .. name
    local ms = median(function() pj.load(f):free() end)
    local line = string.format("  PNG decode %-16s %7.2f ms", name, ms)
    if ref then line = line .. string.format("; cv2.imread %7.2f ms -> %.2fx (target >= 3x)", ref.decode[name], ref.decode[name] / ms) end
    print(line)
  end
  local img = pj.load(page)
  local quads = pj.read_quads(qpath)
  local crops = img:crop_quads(quads)
  local function paths_in(dir)
    local p = {}
    for i = 1, #crops do p[i] = string.format("%s/%04d.png", dir, i) end
    return p
  end
  -- Every timed run writes into a new, empty folder, as the reference
  -- does (deleting the last run's files is not part of saving them).
  local runs = 0
  local function fresh(dir)
    runs = runs + 1
    local d = dir .. "." .. runs
    pj.mkdir(d)
    return d
  end
  local tpaths
  local save = median(function() tpaths = paths_in(fresh(tmpfs .. "/pj_crops")); pj.save_all(crops, tpaths) end)
  local bytes = 0
  for _, p in ipairs(tpaths) do local fh = io.open(p, "rb"); bytes = bytes + fh:seek("end"); fh:close() end
  os.execute("rm -rf " .. tmpfs .. "/pj_crops.*")
  local line = string.format("  pj.save_all of %d crops to tmpfs %7.2f ms, %d bytes", #crops, save, bytes)
  if ref then
    line = line .. string.format("; cv2.imwrite loop %7.2f ms, %d bytes -> %.2fx, %.0f%% of its bytes (target >= 3x, <= 100%%)",
                                 ref.save, ref.save_bytes, ref.save / save, 100 * bytes / ref.save_bytes)
  end
  print(line)
  runs = 0
  os.execute("rm -rf " .. disk .. "/pj_pipeline.*")
  local pipe = median(function()
    local dpaths = paths_in(fresh(disk .. "/pj_pipeline"))
    local im = pj.load(page)
    local cs = im:crop_quads(pj.read_quads(qpath))
    pj.save_all(cs, dpaths)
  end)
  os.execute("rm -rf " .. disk .. "/pj_pipeline.*")
  line = string.format("  load + crop + save every crop to disk %7.2f ms", pipe)
  if ref then line = line .. string.format("; the Python loop %7.2f ms -> %.2fx (target >= 2x)", ref.pipeline, ref.pipeline / pipe) end
  print(line)
  local jpg = data .. "/page.jpg"
  local full = median(function() pj.load(jpg):free() end)
  local s4 = median(function() pj.load(jpg, { shrink = 4 }):free() end)
  line = string.format("  page.jpg full %6.2f ms, shrink 4 %6.2f ms -> %.2fx (target >= 2x)", full, s4, full / s4)
  if ref then
    line = line .. string.format("; cv2 full %6.2f ms (%.2fx shrink 4), IMREAD_REDUCED_COLOR_4 %6.2f ms", ref.jpeg.full,
                                 ref.jpeg.full / s4, ref.jpeg.reduced4)
  end
  print(line)
end)

-- cv2's time for the word-box chain, from the kernel section's reference run.
local cv2_chain_ms

-- 7. The everyday kernels against their cv2 counterparts: a 100x32 crop
-- called in a loop, a 1000x320 line, the page; at 1 and 2 threads.
-- Results are left to the garbage collector, as a script leaves them.
section(function()
  if not (wanted("kernels") and exists(data .. "/page.png")) then return end
  local page = pj.load(data .. "/page.png")
  local rgb = { ["100x32"] = page:resize(100, 32, { interpolation = "area" }),
                ["1000x320"] = page:resize(1000, 320, { interpolation = "area" }), page = page }
  local gray = {}
  for k, v in pairs(rgb) do gray[k] = v:to_gray() end
  local SIZES = { "100x32", "1000x320", "page" }
  local LOOPS = { ["100x32"] = 1000, ["1000x320"] = 20, page = 1 }
  local function scaled(img, f) return math.max(1, math.floor(img.width * f)), math.max(1, math.floor(img.height * f)) end
  -- The same list, in the same order, as scripts/bench/kernels_ref.py; copy
  -- is set for the kernels that only move bytes (bytes read + written), and
  -- moves for those that make a new image of them, which are also timed
  -- with each result freed at once, as reference counting frees cv2's.
  local K = {
    { "to_gray", "rgb", function(im) return im:to_gray() end },
    { "gray_to_rgb", "gray", function(im) return im:convert(3) end, moves = true },
    { "rgb_to_rgba", "rgb", function(im) return im:convert(4) end, moves = true },
    { "swap_rb", "rgb", function(im) return im:swap_rb() end, copy = 2, moves = true },
    { "pad", "rgb", function(im) return im:pad(8, 8, 8, 8) end, copy = 2, moves = true },
    { "clone", "rgb", function(im) return im:clone() end, copy = 2, moves = true },
    { "fill", "rgb", function(im) im:fill(7) end, copy = 1 },
    { "resize linear /3", "rgb", function(im) return im:resize(scaled(im, 1 / 3)) end },
    { "resize linear x2.5", "gray", function(im) return im:resize(scaled(im, 2.5)) end },
    { "resize area /4", "rgb", function(im) local w, h = scaled(im, 1 / 4); return im:resize(w, h, { interpolation = "area" }) end },
    { "resize nearest /2", "rgb", function(im) local w, h = scaled(im, 1 / 2); return im:resize(w, h, { interpolation = "nearest" }) end },
    { "threshold", "gray", function(im) return im:threshold(127) end },
    { "otsu", "gray", function(im) return im:threshold(0, { otsu = true }) end },
    { "adaptive mean 11", "gray", function(im) return im:adaptive_threshold { block = 11, c = 2 } end },
    { "adaptive gaussian 11", "gray", function(im) return im:adaptive_threshold { block = 11, c = 2, method = "gaussian" } end },
    { "blur 5", "gray", function(im) return im:blur(5) end },
    { "gaussian_blur 5", "gray", function(im) return im:gaussian_blur(5) end },
    { "dilate 3", "gray", function(im) return im:dilate(3) end },
    { "erode 5", "gray", function(im) return im:erode(5) end },
    { "rot90", "gray", function(im) return im:rot90() end, copy = 2, moves = true },
    { "flip horizontal", "rgb", function(im) return im:flip("horizontal") end, copy = 2, moves = true },
    { "flip vertical", "rgb", function(im) return im:flip("vertical") end, copy = 2, moves = true },
    { "invert", "rgb", function(im) return im:invert() end, copy = 2, moves = true },
  }
  -- Each measurement starts from a collected heap, so that it does not
  -- pay for releasing what the one before it left.
  local function median_us(fn, loops)
    collectgarbage()
    fn()
    return pj.timeit(fn, { number = loops, ["repeat"] = REPS, quiet = true, result = true }).median * 1e6
  end
  local ours, freed = {}, {}
  for _, th in ipairs { 1, 2 } do
    pj.threads(th)
    for _, k in ipairs(K) do
      local imgs = k[2] == "rgb" and rgb or gray
      for _, size in ipairs(SIZES) do
        local im, fn = imgs[size], k[3]
        ours[k[1] .. "|" .. size .. "|" .. th] = median_us(function() fn(im) end, LOOPS[size])
        if k.moves and th == 2 then
          freed[k[1] .. "|" .. size] = median_us(function() fn(im):free() end, LOOPS[size])
        end
      end
    end
  end
  pj.threads(0)
  -- This machine's memory copy of a page's bytes, for the copy-like kernels.
  local nbytes = page.width * page.height * 3
  local a, b = ffi.new("uint8_t[?]", nbytes), ffi.new("uint8_t[?]", nbytes)
  local copy_gbs = 2 * nbytes / (median_us(function() ffi.copy(b, a, nbytes) end, 1) * 1e3)
  local ref = have_cv2 and sh(string.format("/usr/bin/python3 scripts/bench/kernels_ref.py %s %s %d",
                                             data .. "/page.png", data .. "/page.boxes.json", math.max(7, math.floor(REPS / 2))))
  ref = ref and require("cjson").decode(ref)
  print(string.format("\nkernels against cv2 (us per call; ratio = cv2 / pixjit; results left to the GC); memcpy %.1f GB/s", copy_gbs))
  print(string.format("  %-21s %-9s %9s %9s %6s   %9s %9s %6s", "kernel", "size", "1 thread", "cv2", "ratio", "2 threads", "cv2", "ratio"))
  local logsum, nlog, worst, worst_name = 0, 0, math.huge, nil
  for _, k in ipairs(K) do
    for _, size in ipairs(SIZES) do
      local line = string.format("  %-21s %-9s", k[1], size)
      for _, th in ipairs { 1, 2 } do
        local us = ours[k[1] .. "|" .. size .. "|" .. th]
        local r = ref and ref.kernels[k[1]][size][tostring(th)]
        line = line .. string.format(" %9.2f", us)
        if r then
          line = line .. string.format(" %9.2f %5.2fx", r, r / us)
          if th == 2 then
            logsum, nlog = logsum + math.log(r / us), nlog + 1
            if r / us < worst then worst, worst_name = r / us, k[1] .. " " .. size end
          end
        else
          line = line .. "         -      -"
        end
        if th == 1 then line = line .. "  " end
      end
      if k.copy and size == "page" then
        local img = (k[2] == "rgb" and rgb or gray).page
        local bytes = k.copy * img.width * img.height * img.channels
        line = line .. string.format("   %.1f GB/s = %.0f%% of memcpy", bytes / (ours[k[1] .. "|page|2"] * 1e3),
                                     100 * bytes / (ours[k[1] .. "|page|2"] * 1e3) / copy_gbs)
      end
      print(line)
    end
  end
  if nlog > 0 then
    print(string.format("  2 threads: geometric mean %.2fx, slowest %s at %.2fx (targets: >= 1.3x, none < 1.0x)",
                        math.exp(logsum / nlog), worst_name, worst))
  end
  -- The byte movers again with img:free() after each call: what they cost
  -- when the result's buffer comes straight back, as cv2's does.
  print("  the kernels that move bytes, each result freed at once (2 threads; us, ratio to cv2):")
  for _, k in ipairs(K) do
    if k.moves then
      local line = string.format("    %-19s", k[1])
      for _, size in ipairs(SIZES) do
        local us, r = freed[k[1] .. "|" .. size], ref and ref.kernels[k[1]][size]["2"]
        line = line .. string.format("  %-8s %8.2f", size, us) .. (r and string.format(" %5.2fx", r / us) or "      -")
      end
      print(line)
    end
  end
  cv2_chain_ms = ref and ref.chain["2"]
end)

-- 8. The peers' chain: each of the page's word boxes viewed, resized to
-- height 32 and made gray, one after another, as a script of its own would
-- run it (the kernel table's traces and garbage gone).
section(function()
  if not (wanted("kernels") and exists(data .. "/page.png")) then return end
  local page = pj.load(data .. "/page.png")
  local function median_us(fn, loops)
    collectgarbage()
    fn()
    return pj.timeit(fn, { number = loops, ["repeat"] = REPS, quiet = true, result = true }).median * 1e6
  end
  local chain_ms = {}
  -- The page's word boxes: view -> height 32 -> gray, one after another.
  local boxes = {}
  for _, q in ipairs(pj.read_quads(data .. "/page.boxes.json")) do
    local x0, y0 = math.floor(math.min(q[1][1], q[4][1])), math.floor(math.min(q[1][2], q[2][2]))
    local x1 = math.min(page.width, math.floor(math.max(q[2][1], q[3][1])))
    local y1 = math.min(page.height, math.floor(math.max(q[3][2], q[4][2])))
    if x1 > x0 and y1 > y0 then boxes[#boxes + 1] = { x0, y0, x1 - x0, y1 - y0 } end
  end
  local function rint(v) local r = math.floor(v + 0.5); if r - v == 0.5 and r % 2 == 1 then r = r - 1 end; return r end
  local function chain()
    local out = {}
    for i, b in ipairs(boxes) do
      out[i] = page:view(b[1], b[2], b[3], b[4]):resize(math.max(1, rint(b[3] * 32 / b[4])), 32):to_gray()
    end
    return out
  end
  for _, th in ipairs { 1, 2 } do
    pj.threads(th)
    chain_ms[th] = median_us(chain, 1) / 1000
  end
  pj.threads(0)
  local line = string.format("  chain, %d word boxes: view -> height 32 -> gray: %.2f ms (1 thread), %.2f ms (2 threads)",
                             #boxes, chain_ms[1], chain_ms[2])
  if cv2_chain_ms then
    line = line .. string.format("; OpenCV-Python %.2f ms -> %.2fx (target >= 2x)", cv2_chain_ms, cv2_chain_ms / chain_ms[2])
  end
  print(line)
end)
