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
    assert.matches("Sampling profile: %d+ samples every 1 ms", out)
    local line2 = out:match("\n%s*2%s+(%d+)%s")
    assert.is_truthy(line2, out)
    assert.is_true(tonumber(line2) > 0)
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
    local r = pj.timeit(function() calls = calls + 1 end, { number = 1000, ["repeat"] = 3, quiet = true })
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
