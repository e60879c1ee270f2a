-- pixjit.profile: a line profiler in the layout Python users know from
-- kernprof / line_profiler, a sampling profiler over LuaJIT's jit.profile,
-- pj.lprun, pj.timeit (as IPython's %timeit) and pj.stats.
--
-- Line mode hooks every call, return and line: each line's time is from
-- entering it to entering the next line of the same function, so time in
-- callees, native kernels included, is charged to the line that called
-- them.  Hooks run in LuaJIT's interpreter (compiled traces do not fire
-- them), so pure-Lua loops run several times slower while profiled; the
-- sampling mode keeps the JIT and costs little, at 1 ms resolution.
local ffi = require "ffi"
local core = require "pixjit.core"

local C = core.C
local M = {}

local now = core.now

-- ---- Line profiler -----------------------------------------------------------

local Profiler = {}
Profiler.__index = Profiler

-- opts.only: set of functions to record (pj.profile); otherwise every
-- function whose source is opts.source (a chunk's "@path" or "=name").
function M.new(opts)
  return setmetatable({ only = opts.only, source = opts.source, funcs = {}, order = {},
                        tracked = setmetatable({}, { __mode = "k" }) }, Profiler)
end

-- Records fn when it is in opts.only or comes from opts.source; the
-- report keeps only the `only` functions when there are any by then (a
-- script registers them with pj.profile as it runs).
function Profiler:track(fn)
  local t = self.tracked[fn]
  if t == nil then
    local info = debug.getinfo(fn, "S")
    local wanted = (self.only and self.only[fn]) or
                   (self.source and info.what ~= "C" and info.source == self.source)
    t = wanted and info or false
    self.tracked[fn] = t
  end
  return t
end

function Profiler:record(fn, line, dt)
  local f = self.funcs[fn]
  if not f then
    local info = self.tracked[fn]
    f = { info = info, hits = {}, time = {} }
    self.funcs[fn] = f
    self.order[#self.order + 1] = fn
  end
  if dt then
    f.time[line] = (f.time[line] or 0) + dt
  else
    f.hits[line] = (f.hits[line] or 0) + 1
    f.time[line] = f.time[line] or 0
  end
end

function Profiler:start()
  local stack, n = {}, 0 -- frames: fn, current line, time the line began
  local getinfo = debug.getinfo
  local function hook(event, line)
    local t = now()
    if event == "line" then
      local fn = getinfo(2, "f").func
      -- Frames that never reported their return (unwound by an error, or
      -- builtins LuaJIT runs without a return event): drop them.
      local popped = false
      while n > 0 and stack[n].fn ~= fn do
        local fr = stack[n]
        if fr.line and fr.rec then self:record(fr.fn, fr.line, t - fr.t) end
        stack[n] = nil
        n = n - 1
        popped = true
      end
      if popped and n > 0 then stack[n].resumed = true end
      if n == 0 then
        n = 1
        stack[1] = { fn = fn, rec = self:track(fn) }
      end
      local fr = stack[n]
      if fr.resumed and fr.line == line then
        -- Back from a callee: LuaJIT reports the calling line again; the
        -- line goes on, it is not a new hit.
        fr.resumed = false
        return
      end
      fr.resumed = false
      if fr.rec then
        if fr.line then self:record(fn, fr.line, t - fr.t) end
        self:record(fn, line)
      end
      fr.line, fr.t = line, t
    elseif event == "call" then
      local fn = getinfo(2, "f").func
      n = n + 1
      stack[n] = { fn = fn, rec = self:track(fn) }
    else -- "return", "tail return"
      local fr = stack[n]
      if fr then
        if fr.line and fr.rec then self:record(fr.fn, fr.line, t - fr.t) end
        stack[n] = nil
        n = n - 1
        if n > 0 then stack[n].resumed = true end
      end
    end
  end
  self.t0 = now()
  debug.sethook(hook, "crl")
end

function Profiler:stop()
  debug.sethook()
  self.elapsed = now() - self.t0
end

local function source_lines(src)
  if not src or src:sub(1, 1) ~= "@" then return {} end
  local lines, f = {}, io.open(src:sub(2))
  if not f then return lines end
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  return lines
end

-- Writes the kernprof-style report to out (a file handle).
function Profiler:report(out)
  out:write("Timer unit: 1e-06 s\n\n")
  local cache = {}
  local only = self.only and next(self.only) and self.only
  for _, fn in ipairs(self.order) do
    if only and not only[fn] then goto next_function end
    local f = self.funcs[fn]
    local info = f.info
    local total = 0
    for _, t in pairs(f.time) do total = total + t end
    local src = info.short_src or "?"
    local lines = cache[info.source] or source_lines(info.source)
    cache[info.source] = lines
    out:write(string.format("Total time: %g s\n", total))
    out:write(string.format("File: %s\n", src))
    out:write(string.format("Function: %s at line %d\n\n",
                            info.linedefined == 0 and "main chunk" or "function", math.max(info.linedefined, 1)))
    out:write(string.format("%6s %9s %12s %8s %8s  %s\n", "Line #", "Hits", "Time", "Per Hit", "% Time", "Line Contents"))
    out:write(string.rep("=", 62), "\n")
    local first = info.linedefined == 0 and 1 or info.linedefined
    local last = info.linedefined == 0 and #lines or info.lastlinedefined
    for ln in pairs(f.hits) do if ln > last then last = ln end end
    for ln = first, last do
      local hits, t = f.hits[ln], f.time[ln]
      local text = lines[ln] or ""
      if hits then
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

-- Runs chunk(...) under jit.profile sampling every opts.ms milliseconds
-- (1) and writes per-line sample counts for lines of `source`.  opts.call
-- as for run_lines.
function M.run_sampled(chunk, source, out, opts, ...)
  local jp = require "jit.profile"
  local ms = opts.ms or 1
  local counts, total = {}, 0
  local want = source:sub(1, 1) == "@" and source:sub(2) or source
  jp.start("li" .. ms, function(thread, samples)
    total = total + samples
    -- The innermost frame in the script: time in library code and native
    -- kernels is charged to the script line that called them.
    for frame in jp.dumpstack(thread, "pl\n", 64):gmatch("[^\n]+") do
      local file, line = frame:match("^(.-):(%d+)$")
      if file == want then
        line = tonumber(line)
        counts[line] = (counts[line] or 0) + samples
        break
      end
    end
  end)
  local res = { (opts.call or pcall)(chunk, ...) }
  jp.stop()
  local lines = source_lines(source)
  out:write(string.format("Sampling profile: %d samples every %d ms (%s)\n", total, ms, want))
  out:write(string.format("%6s %9s %12s %8s  %s\n", "Line #", "Samples", "Time (ms)", "% Time", "Line Contents"))
  out:write(string.rep("=", 62), "\n")
  for ln = 1, #lines do
    local c = counts[ln]
    if c then
      out:write(string.format("%6d %9d %12.1f %8.1f  %s\n", ln, c, c * ms, 100 * c / math.max(total, 1), lines[ln]))
    end
  end
  return unpack(res, 1, table.maxn(res))
end

-- pj.lprun(fn, ...): profiles one call of fn line by line, prints the
-- table (to io.stdout) and returns fn's results.
function M.lprun(fn, ...)
  if type(fn) ~= "function" then
    core.raise("pixjit.lprun: fn must be a function, got " .. core.describe(fn))
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

-- pj.timeit(fn [, opts]) -> { mean =, std =, median =, best =, runs =, loops =, times = }
-- Runs fn in loops of N calls, N chosen as %timeit does (1, 2, 5, 10, 20,
-- ... until a loop takes >= 0.2 s), R = 7 times; prints
-- "X ms ± Y µs per loop (mean ± std. dev. of R runs, N loops each)".
-- opts: number (N), ["repeat"] (R), quiet.
function M.timeit(fn, opts)
  local f = "pixjit.timeit"
  if type(fn) ~= "function" then core.raise(f .. ": fn must be a function, got " .. core.describe(fn)) end
  opts = core.opts(f, opts, { number = true, ["repeat"] = true, quiet = true })
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
  return res
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
