-- The line profiler, timing helpers, kernel statistics and thread policy.
local pj = require "pixjit"
local H = require "spec.helper"

local function rows(out)
  local t = {}
  for ln, hits, time, per, pct, text in out:gmatch("\n%s*(%d+)%s+(%d+)%s+([%d.]+)%s+([%d.]+)%s+([%d.]+)  ([^\n]*)") do
    t[tonumber(ln)] = { hits = tonumber(hits), time = tonumber(time), pct = tonumber(pct), text = text }
  end
  return t
end

describe("--profile", function()
  it("counts hits exactly and prints kernprof's columns", function()
    local p = H.write("loop.lua", "local s = 0\nfor i = 1, 100 do\n  s = s + i\nend\nprint(s)\n")
    local out, rc = H.sh(H.pixjit .. " --profile " .. p)
    assert.are.equal(0, rc, out)
    assert.matches("^5050\n", out)
    assert.matches("Timer unit: 1e%-06 s", out)
    assert.matches("Total time: [%d.e-]+ s", out)
    assert.matches("Function: main chunk at line 1", out)
    assert.matches("Line #%s+Hits%s+Time%s+Per Hit%s+%% Time%s+Line Contents", out)
    local r = rows(out)
    assert.are.equal(1, r[1].hits)
    assert.are.equal(101, r[2].hits)
    assert.are.equal(100, r[3].hits)
    assert.are.equal("  s = s + i", r[3].text)
    assert.is_nil(r[4])
    assert.are.equal(1, r[5].hits)
  end)

  it("charges native kernels to the calling line", function()
    local p = H.write("kernels.lua", table.concat({
      "local img = pj.new(1200, 1200, 3)",
      "local small = img:view(0, 0, 8, 8)",
      "local a = small:main_colors(3)",
      "local b = img:warp_perspective({ { 2, 0, 0.5 }, { 0, 2, 0.5 }, { 0, 0, 1 } }, 3600, 3600)",
      "local c = small:clone()",
    }, "\n") .. "\n")
    local out, rc = H.sh(H.pixjit .. " --profile " .. p)
    assert.are.equal(0, rc, out)
    local r, top = rows(out), nil
    for ln, row in pairs(r) do
      if not top or row.pct > r[top].pct then top = ln end
    end
    assert.are.equal(4, top)
    assert.is_true(r[4].pct > 50)
  end)

  it("reports only pj.profile'd functions when there are any, to --profile-out", function()
    local p = H.write("marked.lua", table.concat({
      "local function plain(n) local s = 0 for i = 1, n do s = s + i end return s end",
      "local marked = pj.profile(function(n)",
      "  return plain(n) * 2",
      "end)",
      "print(marked(10), plain(3))",
    }, "\n") .. "\n")
    local report = H.tmp .. "/marked.prof"
    os.remove(report)
    local out, rc = H.sh(H.pixjit .. " --profile-out " .. report .. " " .. p)
    assert.are.equal(0, rc, out)
    assert.are.equal("110\t6\n", out)
    local f = assert(io.open(report))
    local text = f:read("*a")
    f:close()
    assert.matches("Function: function at line 2", text)
    assert.is_nil(text:find("main chunk", 1, true))
    local r = rows(text)
    assert.are.equal(1, r[3].hits)
  end)

  it("samples with LuaJIT's profiler, keeping the JIT", function()
    local p = H.write("busy.lua", table.concat({
      "local s = 0",
      "for k = 1, 300000000 do s = s + k % 7 end",
      "print(s > 0)",
    }, "\n") .. "\n")
    local out, rc = H.sh(H.pixjit .. " --profile-sample " .. p)
    assert.are.equal(0, rc, out)
    assert.matches("Sampling profile: %d+ samples, [%d.]+ ms wall time", out)
    local line2 = out:match("\n%s*2%s+(%d+)%s")
    assert.is_truthy(line2, out)
    assert.is_true(tonumber(line2) > 0)
  end)

  it("counts each run of a line once, whatever the line calls", function()
    -- LuaJIT reports a line again after most calls return; loops on one
    -- line report it again per iteration.  Only the latter are hits.
    local p = H.write("oneline.lua", table.concat({
      "local img, x = pj.new(4, 4, 3), nil",
      "for i = 1, 3 do x = tostring(i) end",
      "for i = 1, 3 do x = math.floor(i / 2) end",
      "for i = 1, 3 do x = img:view(0, 0, 2, 2).width + img.height end",
      "for i = 1, 3 do x = pj.threads() end",
      "for i = 1, 3 do pj.is_image(img) end",
      "local function id(v) return v end",
      "for i = 1, 3 do x = id(i) + id(pj.new(1, 1, 1).width) end",
      "for i = 1, 3 do x = pcall(pj.load, 42) end",
      "x = select('#', id(1), tostring(2), img:get(0, 0))",
    }, "\n") .. "\n")
    local out, rc = H.sh(H.pixjit .. " --profile " .. p)
    assert.are.equal(0, rc, out)
    local r = rows(out:match("^(.-\nTotal time.-)\nTotal time") or error(out))
    for ln = 2, 6 do assert.are.equal(3, r[ln].hits, r[ln].text) end
    assert.are.equal(1, r[7].hits)
    assert.are.equal(3, r[8].hits)
    assert.are.equal(3, r[9].hits)
    assert.are.equal(1, r[10].hits)
  end)

  it("keeps an error's line and traceback in the script, and goes on after pcall", function()
    local p = H.write("badarg.lua", table.concat({
      "local ok, err = pcall(pj.load, 42)",
      "print(err)",
      "local function f()",
      "  local img = pj.new(2, 2, 1)",
      "  local small = img:resize(-1, 2)",
      "  return small",
      "end",
      "f()",
    }, "\n") .. "\n")
    local out, rc = H.sh(H.pixjit .. " --profile " .. p)
    assert.are.equal(1, rc, out)
    assert.matches("pixjit.load: path must be a string, got 42\n", out)
    assert.matches("pixjit: [^\n]*badarg.lua:5: img:resize: [^\n]*\nstack traceback:\n\t[^\n]*badarg.lua:5: in function 'f'\n", out)
    assert.is_nil(out:find("[C]", 1, true), out)
    local r = rows(out)
    assert.are.same({ 1, 1, 1 }, { r[1].hits, r[2].hits, r[8].hits })
  end)

  it("puts pj.lprun's function into the running profile", function()
    local p = H.write("nested.lua", table.concat({
      "local function g(n)",
      "  return n + 1",
      "end",
      "print(pj.lprun(g, 41))",
    }, "\n") .. "\n")
    local out, rc = H.sh(H.pixjit .. " --profile " .. p)
    assert.are.equal(0, rc, out)
    assert.matches("^42\n", out)
    assert.matches("Function: function at line 1", out)
    assert.is_nil(out:find("main chunk", 1, true), out)
  end)

  it("charges a pixjit call that blocks to its line when sampling", function()
    -- No CPU time passes while pj.load waits on the pipe, so no sample
    -- falls inside it: the call charges its own line.
    local fifo = H.tmp .. "/slow.fifo"
    local png = H.tmp .. "/slow.png"
    pj.new(64, 64, 3, 9):save(png)
    os.execute("rm -f " .. fifo .. " && mkfifo " .. fifo)
    local p = H.write("blocks.lua", table.concat({
      "local s = 0",
      "local img = pj.load(arg[1])",
      "for k = 1, 3000000 do s = s + k % 7 end",
      "print(img.width, s > 0)",
    }, "\n") .. "\n")
    local out, rc = H.sh("(sleep 0.4; cat " .. png .. " > " .. fifo .. ") & " .. H.pixjit .. " --profile-sample " .. p .. " " .. fifo)
    assert.are.equal(0, rc, out)
    local ms = tonumber(out:match("\n%s*2%s+%d+%s+([%d.]+)"))
    assert.is_truthy(ms, out)
    assert.is_true(ms >= 300, out)
  end)

  it("reports a script error after profiling", function()
    local p = H.write("fails.lua", "local x = 1\nerror('boom')\n")
    local out, rc = H.sh(H.pixjit .. " --profile " .. p)
    assert.are.equal(1, rc)
    assert.matches("fails.lua:2: boom", out)
  end)
end)

describe("pj.lprun", function()
  it("profiles one call and returns its results", function()
    local p = H.write("lprun.lua", table.concat({
      "local function f(n, m)",
      "  local t = 0",
      "  for i = 1, n do",
      "    t = t + i",
      "  end",
      "  return t, m",
      "end",
      "print(pj.lprun(f, 10, 'x'))",
    }, "\n") .. "\n")
    local out, rc = H.sh(H.pixjit .. " " .. p)
    assert.are.equal(0, rc, out)
    assert.matches("Timer unit: 1e%-06 s", out)
    assert.matches("Function: function at line 1", out)
    local r = rows(out)
    assert.are.same({ 1, 11, 10, 1 }, { r[2].hits, r[3].hits, r[4].hits, r[6].hits })
    assert.is_nil(r[8])
    assert.matches("55\tx\n$", out)
  end)
end)

describe("pj.timeit", function()
  it("prints and returns mean and spread as %timeit does", function()
    local calls = 0
    local r = pj.timeit(function() calls = calls + 1 end, { number = 1000, ["repeat"] = 3, quiet = true, result = true })
    assert.are.equal(3000, calls)
    assert.are.same({ 1000, 3, 3 }, { r.loops, r.runs, #r.times })
    assert.is_true(r.mean >= r.best and r.std >= 0)
    local out = H.sh(H.pixjit .. " -e 'pj.timeit(function() local x = {} end)'")
    assert.matches("^[%d.]+ [nµm]?s ± [%d.]+ [nµm]?s per loop %(mean ± std%. dev%. of 7 runs, [%d,]+ loops each%)\n$", out)
    assert.has_error(function() pj.timeit(42) end, "pixjit.timeit: fn must be a function, got 42")
  end)
end)

describe("pj.stats", function()
  it("counts kernel calls, time and pixels", function()
    local img = pj.new(100, 50, 4)
    pj.stats_reset()
    for _ = 1, 3 do img:main_colors(2) end
    img:convert(1)
    local s = pj.stats()
    assert.are.same({ 3, 15000 }, { s.main_colors.calls, s.main_colors.pixels })
    assert.are.same({ 1, 5000 }, { s.convert.calls, s.convert.pixels })
    assert.is_true(s.main_colors.seconds > 0 and s.main_colors.pixels_per_second > 0)
    assert.are.equal(0, s.crop_quads.calls)
  end)
end)

describe("--info and the thread policy", function()
  local empty = H.tmp .. "/no-cgroup"
  os.execute("mkdir -p " .. empty)
  local function info(env, flags, wrapper)
    local out, rc = H.sh("env PIXJIT_CGROUP_ROOT=" .. empty .. " " .. (env or "") .. " " ..
                         (wrapper or "") .. " " .. H.pixjit .. " " .. (flags or "") .. " --info")
    assert.are.equal(0, rc, out)
    return out
  end

  it("names the libraries and the CPUs", function()
    local out = info()
    assert.matches("^pixjit %d+%.%d+%.%d+\nLuaJIT 2%.1", out)
    assert.matches("\nlibpng 1%.6%.%d+\n", out)
    assert.matches("\nlibjpeg%-turbo %d", out)
    assert.matches("\nOpenMP %d+\n", out)
    assert.matches("\nCPUs: %d+ online, %d+ in the affinity mask\n", out)
    assert.matches("\nCPU quota: none\n", out)
    assert.matches("\nthreads: %d+ %(affinity%)\n", out)
  end)

  it("follows taskset and the overrides, strongest first", function()
    if not H.sh("command -v taskset"):match("taskset") then return pending("taskset is not installed") end
    assert.matches("threads: 1 %(affinity%)", info(nil, nil, "taskset -c 0"))
    assert.matches("threads: 3 %(OMP_NUM_THREADS%)", info("OMP_NUM_THREADS=3"))
    assert.matches("threads: 5 %(PIXJIT_THREADS%)", info("PIXJIT_THREADS=5 OMP_NUM_THREADS=3"))
    assert.matches("threads: 7 %(%-%-threads%)", info("PIXJIT_THREADS=5", "--threads 7"))
    assert.matches("threads: 2 %(OMP_NUM_THREADS%)", info("OMP_NUM_THREADS=2,1"))
  end)

  it("reads the cgroup quota from a root tests can point elsewhere", function()
    local v2 = H.tmp .. "/cg2"
    os.execute("mkdir -p " .. v2)
    H.write("cg2/cpu.max", "50000 100000\n")
    local out = H.sh("PIXJIT_CGROUP_ROOT=" .. v2 .. " " .. H.pixjit .. " --info")
    assert.matches("CPU quota: 0%.50 CPUs %(cgroup%)", out)
    assert.matches("threads: 1 %(cgroup%)", out)
    H.write("cg2/cpu.max", "max 100000\n")
    assert.matches("CPU quota: none", H.sh("PIXJIT_CGROUP_ROOT=" .. v2 .. " " .. H.pixjit .. " --info"))
    local v1 = H.tmp .. "/cg1"
    os.execute("mkdir -p " .. v1 .. "/cpu")
    H.write("cg1/cpu/cpu.cfs_quota_us", "100000\n")
    H.write("cg1/cpu/cpu.cfs_period_us", "100000\n")
    out = H.sh("PIXJIT_CGROUP_ROOT=" .. v1 .. " " .. H.pixjit .. " --info")
    assert.matches("CPU quota: 1%.00 CPUs %(cgroup%)", out)
    assert.matches("threads: 1 %(", out)
  end)
end)

-- Both profilers against a plain run of the same work, timed by its own
-- clock: a page load, JSON quads, crops, colours, a resize and a pack.
describe("profilers against a plain run", function()
  -- Times are compared on the plain build only: under a sanitizer every
  -- allocation and free costs several times more, so where the profiler's
  -- own tables move a garbage collection weighs far more than it does for
  -- users, and the comparison would measure the sanitizer.
  local build = os.getenv("BUILD") or "build"
  if build ~= "build" then
    it("is checked on the plain build", function() pending("BUILD is " .. build) end)
    return
  end
  local page, quads = H.tmp .. "/truth-page.png", H.tmp .. "/truth-quads.json"
  -- Work on lines 1-7; the plain copy appends mark(n) to each line, so
  -- line numbers agree.
  local WORK = {
    "local page = pj.load(arg[1])",
    "local quads = pj.read_quads(arg[2])",
    "local crops",
    "for i = 1, 4 do crops = page:crop_quads(quads, { height = 32 }) end",
    "local colors = page:main_colors(8)",
    "local small = page:resize(1000, 1300):gaussian_blur(5)",
    "local t = pj.pack(crops, { height = 32, width = 256 })",
    "local words = 0",
    "for i = 1, #crops do words = words + crops[i].width end",
    "print(#crops, #colors, t.shape[1], small.width, words > 0)",
  }
  local LINES = { 1, 2, 4, 5, 6, 7 } -- the lines that call pixjit
  local RUNS = 5

  local function setup()
    if H.exists(page) then return end
    -- Noisy content, so the PNG is large and its decode takes real time.
    local rnd = H.rng(7)
    local img = pj.new(2000, 2600, 3)
    local p = img:pixels()
    for i = 0, 2000 * 2600 * 3 - 1 do p[i] = (i % 6007) % 251 + rnd(5) end
    img:save(page)
    local q = {}
    for k = 0, 1499 do
      local x, y = 40 + (k % 15) * 128, 40 + math.floor(k / 15) * 25
      q[#q + 1] = string.format("[[%d,%d],[%d,%d],[%d,%d],[%d,%d]]", x, y, x + 110, y + 3, x + 109, y + 23, x - 1, y + 20)
    end
    H.write("truth-quads.json", "[" .. table.concat(q, ",\n") .. "]\n")
  end

  local function median(t)
    table.sort(t)
    return t[(#t + 1) / 2]
  end

  -- The script for one mode: the plain script (its own marks), --profile
  -- (Time column, µs) or --profile-sample (Time column, ms).
  local function script_of(mode)
    local src = {}
    for n, l in ipairs(WORK) do
      src[n] = mode == "plain" and (n == 1 and "local T, t0 = {}, pj.now() " or "") .. l ..
                 string.format(" T[%d] = pj.now() - t0 t0 = pj.now()", n) or l
    end
    if mode == "plain" then
      src[#src + 1] = "for n = 1, 10 do io.write(n, ' ', (T[n] or 0) * 1e3, '\\n') end"
    end
    return H.write("truth-" .. mode .. ".lua", table.concat(src, "\n") .. "\n")
  end

  -- Milliseconds per line of one run.
  local function run_once(mode, script)
    local flag = ({ plain = "", lines = "--profile", sample = "--profile-sample" })[mode]
    local out, rc = H.sh(table.concat({ H.pixjit, flag, script, page, quads }, " "))
    assert.are.equal(0, rc, out)
    local ms = {}
    if mode == "plain" then
      for n, v in out:gmatch("\n(%d+) ([%d.e+-]+)") do ms[tonumber(n)] = tonumber(v) end
    elseif mode == "lines" then
      for ln, row in pairs(rows(out)) do ms[ln] = row.time / 1e3 end
    else
      for ln, t in out:gmatch("\n%s*(%d+)%s+%d+%s+([%d.]+)%s+[%d.]+  ") do ms[tonumber(ln)] = tonumber(t) end
    end
    return ms
  end

  -- Per-line medians over RUNS runs of the plain script and of mode, the
  -- two taking turns, so that a stretch in which this shared machine runs
  -- slower falls on both alike.
  local function measure(mode)
    setup()
    local scripts = { plain = script_of("plain"), [mode] = script_of(mode) }
    local runs = { plain = {}, [mode] = {} }
    for r = 1, RUNS do
      runs.plain[r] = run_once("plain", scripts.plain)
      runs[mode][r] = run_once(mode, scripts[mode])
    end
    local med = { plain = {}, [mode] = {} }
    for _, m in ipairs { "plain", mode } do
      for n = 1, #WORK do
        local v = {}
        for r = 1, RUNS do v[r] = runs[m][r][n] or 0 end
        med[m][n] = median(v)
      end
    end
    return med.plain, med[mode]
  end

  local function costliest(ms)
    local top = LINES[1]
    for _, n in ipairs(LINES) do if ms[n] > ms[top] then top = n end end
    return top
  end

  it("--profile times each line that calls pixjit as a plain run does", function()
    local base, prof = measure("lines")
    for _, n in ipairs(LINES) do
      local slack = math.max(0.35 * base[n], 5)
      assert.is_true(math.abs(prof[n] - base[n]) <= slack,
                     string.format("line %d: %.1f ms profiled, %.1f ms plain", n, prof[n], base[n]))
    end
    assert.are.equal(costliest(base), costliest(prof))
  end)

  it("--profile-sample accounts for the wall time, line by line", function()
    local base, prof = measure("sample")
    local total_base, total_prof = 0, 0
    for n = 1, #WORK do
      total_base, total_prof = total_base + base[n], total_prof + prof[n]
    end
    assert.is_true(total_prof >= 0.7 * total_base,
                   string.format("%.1f ms sampled of %.1f ms", total_prof, total_base))
    for _, n in ipairs(LINES) do
      local a, b = 100 * prof[n] / total_prof, 100 * base[n] / total_base
      assert.is_true(math.abs(a - b) <= 15, string.format("line %d: %.0f%% sampled, %.0f%% plain", n, a, b))
    end
    assert.are.equal(costliest(base), costliest(prof))
  end)
end)
