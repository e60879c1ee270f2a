-- pixjit.profile: a line profiler in the layout Python users know from
-- kernprof / line_profiler, a sampling profiler over LuaJIT's jit.profile,
-- pj.lprun, pj.timeit (as IPython's %timeit) and pj.stats.
--
-- Line mode hooks every call, return and line (in C: src/host/lineprof.c):
-- each line's time is from entering it to entering the next line of the
-- same function, so time in callees, native kernels included, is charged
-- to the line that called them.  Hooks run in LuaJIT's interpreter
-- (compiled traces do not fire them), so the script's own loops run
-- slower while profiled, about 0.1 us a line.  pixjit's functions do not:
-- while a profiler runs each is replaced by a wrapper that takes the hook
-- off for the call, so the library's Lua runs compiled, as in a plain
-- run, and counts as time of the calling line.
--
-- Sampling mode keeps the JIT for everything.  LuaJIT's samples come from
-- a CPU-time timer with the kernel's tick (often 4 ms, whatever was asked)
-- and reach Lua only when the VM runs Lua, so their count says little
-- about wall time: each sample is charged the wall time since the one
-- before, and a pixjit call longer than the interval (a blocking read,
-- say) charges its caller's line itself.  The Time column then adds up to
-- the run's wall time.
local ffi = require "ffi"
local core = require "pixjit.core"

local C = core.C
local M = {}

local now = core.now

-- ---- Wrapping pixjit's functions ------------------------------------------

-- Never wrapped: functions that call the user's code, which has to stay
-- under the hook.
local CALLS_BACK = { timeit = true, lprun = true, profile = true }
-- Not wrapped for sampling: accessors cheaper than the wrapper, so that
-- pixel loops keep their speed.
local CHEAP = { get = true, set = true, pixels = true, refs = true, now = true, is_image = true,
                is_tensor = true, hex = true, memory = true }

local wrappers = setmetatable({}, { __mode = "k" }) -- wrapper -> original

-- Replaces the functions of the pixjit module, the image methods and the
-- tensor methods (but those in skip) with make(original); returns a
-- function that puts back every entry still holding its wrapper.
local function instrument(make, skip)
  local pj = package.loaded.pixjit
  if type(pj) ~= "table" then return function() end end
  local tables = { pj, pj.image_methods, require("pixjit.tensor").methods }
  local saved = {}
  for _, t in ipairs(tables) do
    for k, f in pairs(t) do
      if type(f) == "function" and not CALLS_BACK[k] and not (skip and skip[k]) and not wrappers[f] then
        local w = make(f)
        wrappers[w] = f
        core.passthrough[w] = true
        t[k] = w
        saved[#saved + 1] = { t, k, f, w }
      end
    end
  end
  return function()
    for _, s in ipairs(saved) do
      if s[1][s[2]] == s[4] then s[1][s[2]] = s[3] end
    end
  end
end

-- ---- Line profiler -----------------------------------------------------------

-- The hook and the wrappers are the host's (src/host/lineprof.c): false
-- where pixjit runs in another LuaJIT.
local lineprof
local function hooks(f)
  if lineprof == nil then
    local ok, m = pcall(require, "pixjit.lineprof")
    lineprof = ok and m or false
  end
  if not lineprof then core.raise(f .. ": the line profiler needs bin/pixjit, which runs the hook in C") end
  return lineprof
end

local Profiler = {}
Profiler.__index = Profiler

-- opts.only: set of functions to record (pj.profile); opts.source: a
-- chunk's "@path" or "=name", all of whose functions are recorded.
function M.new(opts)
  return setmetatable({ only = opts.only, source = opts.source }, Profiler)
end

function Profiler:start()
  local lp = hooks("pixjit.profile")
  local fns = {}
  for fn in pairs(self.only or {}) do fns[#fns + 1] = fn end
  self.undo = instrument(lp.wrap)
  lp.start(self.source, fns)
end

function Profiler:stop()
  local elapsed, funcs = lineprof.stop()
  self.undo()
  if not elapsed then core.raise("pixjit.profile: " .. funcs) end
  self.elapsed, self.funcs = elapsed, funcs
end

local function source_lines(src)
  if not src or src:sub(1, 1) ~= "@" then return {} end
  local lines, f = {}, io.open(src:sub(2))
  if not f then return lines end
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  return lines
end

-- Writes the kernprof-style report to out (a file handle).  With `only`
-- functions, just theirs.
function Profiler:report(out)
  out:write("Timer unit: 1e-06 s\n\n")
  local keep
  if self.only and next(self.only) then
    keep = {}
    for fn in pairs(self.only) do
      local info = debug.getinfo(fn, "S")
      keep[info.source .. "\0" .. info.linedefined] = true
    end
  end
  local cache = {}
  for _, f in ipairs(self.funcs) do
    if keep and not keep[f.source .. "\0" .. f.linedefined] then goto next_function end
    local total = 0
    for _, t in pairs(f.time) do total = total + t end
    local lines = cache[f.source] or source_lines(f.source)
    cache[f.source] = lines
    out:write(string.format("Total time: %g s\n", total))
    out:write(string.format("File: %s\n", f.source:gsub("^[@=]", "")))
    out:write(string.format("Function: %s at line %d\n\n",
                            f.linedefined == 0 and "main chunk" or "function", math.max(f.linedefined, 1)))
    out:write(string.format("%6s %9s %12s %8s %8s  %s\n", "Line #", "Hits", "Time", "Per Hit", "% Time", "Line Contents"))
    out:write(string.rep("=", 62), "\n")
    local first = f.linedefined == 0 and 1 or f.linedefined
    local last = f.linedefined == 0 and #lines or f.lastlinedefined
    for ln in pairs(f.hits) do if ln > last then last = ln end end
    for ln = first, last do
      local hits, t = f.hits[ln], f.time[ln]
      local text = lines[ln] or ""
      if hits and hits > 0 then
        local us = t * 1e6
        out:write(string.format("%6d %9d %12.1f %8.1f %8.1f  %s\n", ln, hits, us, us / hits,
                                total > 0 and 100 * t / total or 0, text))
      else
        out:write(string.format("%6d %9s %12s %8s %8s  %s\n", ln, "", "", "", "", text))
      end
    end
    out:write("\n")
    ::next_function::
  end
end

-- Functions registered with pj.profile(fn); --profile reports only these
-- when there are any.
M.registered = setmetatable({}, { __mode = "k" })

function M.profile(fn)
  if type(fn) ~= "function" then
    core.raise("pixjit.profile: fn must be a function, got " .. core.describe(fn))
  end
  M.registered[fn] = true
  if lineprof and lineprof.active() then lineprof.want(fn) end
  return fn
end

-- Runs chunk(...) under the line profiler; writes the report to out.
-- opts.call runs the chunk (the host's docall; pcall by default).
-- Returns what the call returned (true, results... or false, message).
function M.run_lines(chunk, source, out, opts, ...)
  local p = M.new { only = M.registered, source = source }
  p:start()
  local res = { (opts.call or pcall)(chunk, ...) }
  p:stop()
  p:report(out)
  return unpack(res, 1, table.maxn(res))
end

-- Sampling mode state: where wall time was last charged, and the
-- charging function of the running sampler.
local sample_charge

-- The line of `source` that the innermost frame in it runs, from level
-- upwards; nil when no frame is from source.
local function script_line(source, level)
  local getinfo = debug.getinfo
  while true do
    local info = getinfo(level, "Sl")
    if not info then return nil end
    if info.source == source then return info.currentline end
    level = level + 1
  end
end

local function sample_return(t0, ...)
  local charge = sample_charge
  -- A call longer than a sample interval may have blocked, so no sample
  -- fell inside it: it charges its own line.
  if charge and now() - t0 >= charge.slow then charge(script_line(charge.source, 3)) end
  return ...
end

local function sample_wrapper(f)
  return function(...) return sample_return(now(), f(...)) end
end

-- Runs chunk(...) under jit.profile sampling every opts.ms milliseconds
-- (1) and writes the wall time charged to each line of `source`.
-- opts.call as for run_lines.
function M.run_sampled(chunk, source, out, opts, ...)
  local jp = require "jit.profile"
  local ms = opts.ms or 1
  local times, counts, total, unplaced = {}, {}, 0, 0
  local want = source:sub(1, 1) == "@" and source:sub(2) or source
  local t_start = now()
  local last = t_start
  -- Charges the wall time since the last charge to line (nil: to no line
  -- of the script, e.g. while it loads).
  local charge = setmetatable({ source = source, slow = ms * 1e-3 }, { __call = function(_, line)
    local t = now()
    if line then
      times[line] = (times[line] or 0) + (t - last)
      counts[line] = (counts[line] or 0) + 1
    else
      unplaced = unplaced + (t - last)
    end
    total = total + 1
    last = t
  end })
  local outer = sample_charge
  sample_charge = charge
  local undo = instrument(sample_wrapper, CHEAP)
  jp.start("li" .. ms, function(thread)
    -- The innermost frame in the script: time in library code and native
    -- kernels goes to the script line that called them.
    local line
    for frame in jp.dumpstack(thread, "pl\n", 64):gmatch("[^\n]+") do
      local file, l = frame:match("^(.-):(%d+)$")
      if file == want then
        line = tonumber(l)
        break
      end
    end
    charge(line)
  end)
  local res = { (opts.call or pcall)(chunk, ...) }
  jp.stop()
  undo()
  sample_charge = outer
  local wall = now() - t_start
  local lines = source_lines(source)
  out:write(string.format("Sampling profile: %d samples, %.1f ms wall time (%s)\n", total, wall * 1e3, want))
  out:write(string.format("%6s %9s %12s %8s  %s\n", "Line #", "Samples", "Time (ms)", "% Time", "Line Contents"))
  out:write(string.rep("=", 62), "\n")
  for ln = 1, math.max(#lines, table.maxn(times)) do
    local t = times[ln]
    if t then
      out:write(string.format("%6d %9d %12.1f %8.1f  %s\n", ln, counts[ln], t * 1e3, 100 * t / wall,
                              lines[ln] or ""))
    end
  end
  -- Since the last sample, and anything outside the script's frames.
  local rest = unplaced + (now() - last)
  out:write(string.format("%6s %9s %12.1f %8.1f  (outside the script's lines)\n", "", "", rest * 1e3,
                          100 * rest / wall))
  return unpack(res, 1, table.maxn(res))
end

-- pj.lprun(fn, ...): profiles one call of fn line by line, prints the
-- table (to io.stdout) and returns fn's results.  Under a running line
-- profile (--profile) fn joins that profile's report instead.
function M.lprun(fn, ...)
  if type(fn) ~= "function" then
    core.raise("pixjit.lprun: fn must be a function, got " .. core.describe(fn))
  end
  local lp = hooks("pixjit.lprun")
  if lp.active() then
    lp.want(fn)
    M.registered[fn] = true
    return fn(...)
  end
  local p = M.new { only = { [fn] = true } }
  p:start()
  local res = { pcall(fn, ...) }
  p:stop()
  p:report(io.stdout)
  if not res[1] then core.raise(res[2], 0) end
  return unpack(res, 2, table.maxn(res))
end

-- ---- timeit ------------------------------------------------------------------

-- Time in the largest unit that keeps it >= 1, 3 significant digits, as
-- IPython prints.
local function format_time(t)
  local units = { { "s", 1 }, { "ms", 1e-3 }, { "µs", 1e-6 }, { "ns", 1e-9 } }
  for _, u in ipairs(units) do
    if t >= u[2] or u[1] == "ns" then
      local s = string.format("%.3g", t / u[2])
      -- Below 1 ns %g turns exponential ("9.17e-05"); keep plain digits.
      if s:find("e", 1, true) then s = string.format("%.6f", t / u[2]) end
      return s .. " " .. u[1]
    end
  end
end
M.format_time = format_time

local function commas(n)
  local s = tostring(n)
  while true do
    local k
    s, k = s:gsub("^(%d+)(%d%d%d)", "%1,%2")
    if k == 0 then return s end
  end
end

-- pj.timeit(fn [, opts]) runs fn in loops of N calls, N chosen as %timeit
-- does (1, 2, 5, 10, 20, ... until a loop takes >= 0.2 s), R = 7 times;
-- prints "X ms ± Y µs per loop (mean ± std. dev. of R runs, N loops
-- each)".  It returns nothing (so the prompt prints only that line)
-- unless opts.result, as IPython's -o: then { mean =, std =, median =,
-- best =, runs =, loops =, times = }.  opts: number (N), ["repeat"] (R),
-- quiet (no line), result.
function M.timeit(fn, opts)
  local f = "pixjit.timeit"
  if type(fn) ~= "function" then core.raise(f .. ": fn must be a function, got " .. core.describe(fn)) end
  opts = core.opts(f, opts, { number = true, ["repeat"] = true, quiet = true, result = true })
  local loops = opts.number and core.count(f, "opts.number", opts.number)
  local runs = opts["repeat"] and core.count(f, "opts.repeat", opts["repeat"]) or 7
  local function run(n)
    local t0 = now()
    for _ = 1, n do fn() end
    return now() - t0
  end
  if not loops then
    local scale = 1
    while true do
      for _, k in ipairs { 1, 2, 5 } do
        loops = k * scale
        if run(loops) >= 0.2 then goto found end
      end
      scale = scale * 10
    end
  end
  ::found::
  local times, sum = {}, 0
  for i = 1, runs do
    times[i] = run(loops) / loops
    sum = sum + times[i]
  end
  local mean, var, best = sum / runs, 0, math.huge
  for i = 1, runs do
    var = var + (times[i] - mean) ^ 2
    best = math.min(best, times[i])
  end
  local std = math.sqrt(var / runs)
  local sorted = { unpack(times) }
  table.sort(sorted)
  local median = runs % 2 == 1 and sorted[(runs + 1) / 2] or (sorted[runs / 2] + sorted[runs / 2 + 1]) / 2
  local res = { mean = mean, std = std, median = median, best = best, runs = runs, loops = loops,
                times = times }
  if not opts.quiet then
    print(string.format("%s ± %s per loop (mean ± std. dev. of %d run%s, %s loop%s each)",
                        format_time(mean), format_time(std), runs, runs == 1 and "" or "s",
                        commas(loops), loops == 1 and "" or "s"))
  end
  if opts.result then return res end
end

-- ---- Kernel statistics -------------------------------------------------------

-- pj.stats() -> { [kernel] = { calls =, seconds =, pixels =, pixels_per_second = } }
-- kept by the C core for every call since start (or pj.stats_reset()).
function M.stats()
  local out, s = {}, ffi.new("pj_kernel_stats")
  for k = 0, C.PJ_KERNEL_COUNT - 1 do
    C.pj_stats_get(k, s)
    local secs = tonumber(s.ns) * 1e-9
    out[ffi.string(C.pj_kernel_name(k))] = {
      calls = tonumber(s.calls), seconds = secs, pixels = tonumber(s.pixels),
      pixels_per_second = secs > 0 and tonumber(s.pixels) / secs or 0,
    }
  end
  return out
end

function M.stats_reset() C.pj_stats_reset() end

return M
