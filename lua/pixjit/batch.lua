-- pixjit.batch: `bin/pixjit --batch JOB`.  A job (a Lua file returning a
-- table, or JSON) names inputs, an output directory and steps; the runner
-- spreads inputs over worker processes, so a failing or even crashing step
-- loses only its own input.  Every output is written under a temporary
-- name and renamed; OUT/report.jsonl gets one line per input; --resume
-- skips inputs already done; --shard K/N splits inputs by a hash of their
-- path so N machines share a job without coordination.
local ffi = require "ffi"
local bit = require "bit"
local cjson = require "cjson"
local pj = require "pixjit"
local sys = require "pixjit.sys"

local M = {}
local IMAGE_EXT = { png = true, jpg = true, jpeg = true, npy = true }

-- ---- Templates ---------------------------------------------------------------

-- "{stem}.colors.json" with the input's fields; "{index:04}" pads numbers.
local function expand(template, fields)
  return (template:gsub("{([%w_]+):?(%d*)}", function(k, width)
    local v = fields[k]
    if v == nil then error("unknown template field {" .. k .. "} in \"" .. template .. "\"", 0) end
    if width ~= "" and type(v) == "number" then return string.format("%0" .. tonumber(width) .. "d", v) end
    return tostring(v)
  end))
end
M.expand = expand

local function fields_of(path)
  local dir, name = path:match("^(.*)/([^/]+)$")
  dir, name = dir or ".", name or path
  local stem, ext = name:match("^(.+)%.([^.]+)$")
  return { path = path, dir = dir, name = name, stem = stem or name, ext = ext or "" }
end

-- ---- Outputs --------------------------------------------------------------

local function ensure_parent(path)
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then pj.mkdir(dir) end
end

-- Writes with writer(tmp) then renames to path; records path in ctx.
local function write_atomic(ctx, path, writer)
  ensure_parent(path)
  local tmp = sys.temp_name(path)
  local ok, err = pcall(writer, tmp)
  if not ok then
    sys.C.unlink(tmp)
    error(err, 0)
  end
  sys.commit(tmp, path)
  ctx.outputs[#ctx.outputs + 1] = path
end

local function write_text(ctx, path, text)
  write_atomic(ctx, path, function(tmp)
    local f = assert(io.open(tmp, "wb"))
    assert(f:write(text))
    assert(f:close())
  end)
end

local function out_path(ctx, step, default)
  return ctx.out .. "/" .. expand(step.name or default, ctx.fields)
end

-- ---- Built-in steps ---------------------------------------------------------
-- Each takes (ctx, step); ctx.image is the current image, ctx.values a
-- table steps share; step holds its options.

local function image_of(ctx, step)
  local img = step.image and ctx.values[step.image] or ctx.image
  if not pj.is_image(img) then error("step '" .. step[1] .. "' has no image (run 'load' first)", 0) end
  return img
end

local STEPS = {}

function STEPS.load(ctx, step)
  ctx.image = pj.load(ctx.fields.path, { channels = step.channels, max_pixels = step.max_pixels })
end

function STEPS.main_colors(ctx, step)
  ctx.values.colors = image_of(ctx, step):main_colors(step.n or ctx.job.n or 6,
    { min_alpha = step.min_alpha, bits = step.bits })
end

function STEPS.write_colors(ctx, step)
  local items = {}
  for i, c in ipairs(ctx.values.colors or error("write_colors needs main_colors first", 0)) do
    items[i] = string.format('{"r": %d, "g": %d, "b": %d, "count": %d}', c.r, c.g, c.b, c.count)
  end
  write_text(ctx, out_path(ctx, step, "{stem}.colors.json"), "[" .. table.concat(items, ", ") .. "]\n")
end

function STEPS.palette(ctx, step)
  local colors = ctx.values.colors or error("palette needs main_colors first", 0)
  if #colors > 0 then ctx.values.palette = pj.palette(colors, { height = step.height, width = step.width }) end
end

function STEPS.save(ctx, step)
  local img = image_of(ctx, step)
  write_atomic(ctx, out_path(ctx, step, "{stem}.png"), function(tmp)
    img:save(tmp, { quality = step.quality, compression = step.compression })
  end)
end

function STEPS.crop_quads(ctx, step)
  local qpath = expand(step.quads or "{dir}/{stem}.quads.json", ctx.fields)
  local crops, errors = image_of(ctx, step):crop_quads(pj.read_quads(qpath), {
    rotate = step.rotate, height = step.height, interpolation = step.interpolation })
  ctx.values.crops, ctx.values.crop_errors = crops, errors
end

function STEPS.save_crops(ctx, step)
  for i, crop in ipairs(ctx.values.crops or error("save_crops needs crop_quads first", 0)) do
    if crop then
      local fields = setmetatable({ index = i }, { __index = ctx.fields })
      local path = ctx.out .. "/" .. expand(step.name or "{stem}/{index:04}.png", fields)
      write_atomic(ctx, path, function(tmp) crop:save(tmp, { compression = step.compression or 1 }) end)
    end
  end
end

function STEPS.resize(ctx, step)
  ctx.image = image_of(ctx, step):resize(step.w, step.h, { interpolation = step.interpolation })
end

function STEPS.to_gray(ctx, step) ctx.image = image_of(ctx, step):to_gray() end

function STEPS.pack(ctx, step)
  local imgs = ctx.values.crops and {} or { image_of(ctx, step) }
  for _, c in ipairs(ctx.values.crops or {}) do if c then imgs[#imgs + 1] = c end end
  ctx.values.tensor, ctx.values.widths = pj.pack(imgs, {
    height = step.height, max_width = step.max_width, channels = step.channels,
    mean = step.mean, std = step.std, pad_value = step.pad_value, interpolation = step.interpolation })
end

function STEPS.save_npy(ctx, step)
  local t = ctx.values.tensor or error("save_npy needs pack first", 0)
  write_atomic(ctx, out_path(ctx, step, "{stem}.npy"), function(tmp) t:save(tmp) end)
  write_text(ctx, out_path(ctx, { name = step.widths }, "{stem}.widths.json"), cjson.encode(ctx.values.widths) .. "\n")
end

M.STEPS = STEPS

-- ---- Job loading -------------------------------------------------------------

local function load_job(path)
  local f, err = io.open(path, "rb")
  if not f then error("--batch: " .. err, 0) end
  local text = f:read("*a")
  f:close()
  local job
  if text:match("^%s*[{%[]") and not path:match("%.lua$") then
    local ok, j = pcall(cjson.decode, text)
    if not ok then error("--batch: " .. path .. ": invalid JSON: " .. tostring(j), 0) end
    job = j
  else
    local fn, lerr = loadstring(text, "@" .. path)
    if not fn then error("--batch: " .. lerr, 0) end
    job = fn()
  end
  if type(job) ~= "table" then error("--batch: " .. path .. " must return a table", 0) end
  if type(job.steps) ~= "table" or #job.steps == 0 then
    error("--batch: " .. path .. ": the job needs a non-empty 'steps' list", 0)
  end
  for i, s in ipairs(job.steps) do
    if type(s) == "string" then s = { s }; job.steps[i] = s end
    -- JSON jobs name a step with "step": {"step": "main_colors", "n": 6}.
    if type(s) == "table" and s[1] == nil and s.step ~= nil then s[1] = s.step end
    if type(s) == "table" then
      if not STEPS[s[1]] then
        local names = {}
        for k in pairs(STEPS) do names[#names + 1] = k end
        table.sort(names)
        error(string.format("--batch: %s: step %d: unknown step %s (built-in: %s)", path, i,
                            tostring(s[1]), table.concat(names, ", ")), 0)
      end
    elseif type(s) ~= "function" then
      error(string.format("--batch: %s: step %d must be a table, a name or a function", path, i), 0)
    end
  end
  return job
end

-- ---- Inputs ------------------------------------------------------------------

local function add_dir(list, dir)
  for _, p in ipairs(sys.glob(dir:gsub("/*$", "") .. "/*")) do
    local ext = p:match("%.([%w]+)$")
    if ext and IMAGE_EXT[ext:lower()] and not p:match("/$") then list[#list + 1] = p end
  end
end

local function add_lines(list, f)
  for line in f:lines() do
    line = line:match("^%s*(.-)%s*$")
    if line ~= "" and not line:match("^#") then list[#list + 1] = line end
  end
end

-- Inputs from globs, directories, list files ("@file" or *.txt/*.list)
-- and "-" (paths on stdin); sorted, without duplicates.
local function collect(specs)
  local list = {}
  for _, spec in ipairs(specs) do
    if spec == "-" then
      add_lines(list, io.stdin)
    elseif spec:match("^@") or spec:match("%.txt$") or spec:match("%.list$") then
      local f, err = io.open(spec:gsub("^@", ""), "r")
      if not f then error("--batch: input list " .. err, 0) end
      add_lines(list, f)
      f:close()
    elseif spec:match("[*?%[{]") then
      for _, p in ipairs(sys.glob(spec)) do
        if p:match("/$") then add_dir(list, p) else list[#list + 1] = p end
      end
    else
      local g = sys.glob(spec)
      if g[1] and g[1]:match("/$") then add_dir(list, g[1]) else list[#list + 1] = spec end
    end
  end
  table.sort(list)
  local out, seen = {}, {}
  for _, p in ipairs(list) do
    if not seen[p] then seen[p] = true; out[#out + 1] = p end
  end
  return out
end

-- FNV-1a of the path: a shard assignment that does not depend on which
-- other inputs a machine sees.
local function shard_of(path, n)
  local h = 2166136261
  for i = 1, #path do
    h = bit.tobit(bit.bxor(h, path:byte(i)) * 16777619)
  end
  return (h % n + n) % n
end
M.shard_of = shard_of

-- Inputs already completed: paths whose last report line says "ok" and
-- whose outputs all exist.  Unparsable lines (a batch killed mid-write)
-- are ignored.
local function completed(report_path)
  local done = {}
  local f = io.open(report_path, "r")
  if not f then return done end
  for line in f:lines() do
    local ok, rec = pcall(cjson.decode, line)
    if ok and type(rec) == "table" and rec.path then
      local good = rec.status == "ok"
      if good then
        for _, o in ipairs(rec.outputs or {}) do
          local fh = io.open(o, "rb")
          if fh then fh:close() else good = false end
        end
      end
      done[rec.path] = good or nil
    end
  end
  f:close()
  return done
end

-- Temporary files a killed batch left behind.
local function sweep(out)
  local n = 0
  for _, p in ipairs(sys.glob(out .. "/**/.*.pjtmp*")) do sys.C.unlink(p); n = n + 1 end
  for _, p in ipairs(sys.glob(out .. "/.*.pjtmp*")) do sys.C.unlink(p); n = n + 1 end
  return n
end

-- ---- One input -----------------------------------------------------------------

local function run_input(job, out, path)
  local ctx = { job = job, out = out, fields = fields_of(path), values = {}, outputs = {} }
  local ms, order = {}, {}
  local t_all = pj.now()
  for i, step in ipairs(job.steps) do
    local name = type(step) == "function" and ("lua" .. i) or step[1]
    local t0 = pj.now()
    local ok, err = xpcall(function()
      if type(step) == "function" then step(ctx) else STEPS[step[1]](ctx, step) end
    end, function(e)
      -- A built-in step's errors name pixjit's function and the file; the
      -- position inside this runner says nothing to the user.
      return (tostring(e):gsub("^[^\n]-pixjit/batch%.lua:%d+: ", ""))
    end)
    ms[name] = (ms[name] or 0) + (pj.now() - t0) * 1000
    order[#order + 1] = name
    if not ok then
      return { path = path, status = "error", error = "step " .. name .. ": " .. err, ms = ms,
               outputs = ctx.outputs }
    end
  end
  ms.total = (pj.now() - t_all) * 1000
  return { path = path, status = "ok", ms = ms, outputs = ctx.outputs }
end
M.run_input = run_input

-- ---- Workers ------------------------------------------------------------------

-- Starts a worker: fork, then exec a fresh pixjit in worker mode, so no
-- state of this process (an OpenMP thread pool a job file started, which
-- a forked child would deadlock on, or the Lua heap) carries over.  Tasks
-- go to the worker on its fd 3 and results come back on its fd 4, so a
-- step that prints to stdout cannot disturb them.  The pipes are
-- close-on-exec, so workers never hold each other's ends.
local function spawn(job_path, out, kthreads)
  local to, from = ffi.new("int[2]"), ffi.new("int[2]")
  if sys.C.pipe2(to, sys.O_CLOEXEC) ~= 0 or sys.C.pipe2(from, sys.O_CLOEXEC) ~= 0 then
    error("--batch: pipe: " .. sys.errstr(), 0)
  end
  local argv = ffi.new("char *[6]")
  local keep = { "pixjit", "--batch-worker", job_path, out, tostring(kthreads) }
  for i, a in ipairs(keep) do argv[i - 1] = ffi.cast("char *", a) end
  io.stdout:flush()
  io.stderr:flush()
  local pid = sys.C.fork()
  if pid < 0 then error("--batch: fork: " .. sys.errstr(), 0) end
  if pid == 0 then
    sys.C.prctl(1, 9, 0, 0, 0) -- PR_SET_PDEATHSIG, SIGKILL: die with the parent
    sys.C.dup2(to[0], 3)
    sys.C.dup2(from[1], 4)
    sys.C.execv("/proc/self/exe", argv)
    sys.C._exit(127)
  end
  sys.C.close(to[0])
  sys.C.close(from[1])
  return { pid = pid, wfd = to[1], rfd = from[0], reader = sys.reader(from[0]), task = nil,
           argv = keep }
end

-- Worker mode (bin/pixjit --batch-worker JOB OUT THREADS): reads input
-- paths (JSON strings, one a line) on fd 3, writes one JSON result a line
-- on fd 4, until fd 3 closes.
function M.worker(job_path, out, kthreads)
  local job = load_job(job_path)
  pj.threads(tonumber(kthreads) or 1)
  local rd = sys.reader(3)
  while true do
    local line = rd.line()
    while not line do
      if not rd.fill() then return 0 end
      line = rd.line()
    end
    local path = cjson.decode(line)
    local ok, res = pcall(run_input, job, out, path)
    if not ok then res = { path = path, status = "error", error = tostring(res), ms = {} } end
    if not sys.write_all(4, cjson.encode(res) .. "\n") then return 1 end
    collectgarbage()
  end
end

local function retire(w)
  sys.C.close(w.wfd)
  sys.C.close(w.rfd)
  sys.reap(w.pid, true)
end

-- ---- Progress ---------------------------------------------------------------

local function fmt_eta(s)
  if s ~= s or s == math.huge then return "?" end
  if s >= 3600 then return string.format("%dh%02dm", s / 3600, s % 3600 / 60) end
  if s >= 60 then return string.format("%dm%02ds", s / 60, s % 60) end
  return string.format("%ds", s)
end

local function progress(state, final)
  if state.quiet then return end
  local done, total = state.done, state.total
  local dt = pj.now() - state.t0
  local rate = done / math.max(dt, 1e-9)
  local eta = (total - done) / math.max(rate, 1e-9)
  if state.tty then
    local width = 30
    local fill = total > 0 and math.floor(width * done / total) or width
    io.stderr:write(string.format("\r[%s%s] %d/%d  %.1f/s  ETA %s  failed %d ",
                                  string.rep("#", fill), string.rep(".", width - fill), done, total,
                                  rate, fmt_eta(eta), state.failed))
    if final then io.stderr:write("\n") end
  elseif final or pj.now() - state.last_line >= 5 then
    state.last_line = pj.now()
    io.stderr:write(string.format("pixjit batch: %d/%d done, %.1f/s, %d failed\n", done, total, rate, state.failed))
  end
  io.stderr:flush()
end

-- ---- Main -----------------------------------------------------------------------

-- opts: job, inputs (list), output, threads, shard {k, n}, resume,
-- dry_run, quiet.  Returns the exit status.
function M.run(opts)
  local job = load_job(opts.job)
  local specs = opts.inputs and #opts.inputs > 0 and opts.inputs or job.inputs
  if type(specs) == "string" then specs = { specs } end
  if type(specs) ~= "table" or #specs == 0 then error("--batch: no inputs (job.inputs or --input)", 0) end
  local out = opts.output or job.output
  if type(out) ~= "string" or out == "" then error("--batch: no output directory (job.output or --output)", 0) end
  out = out:gsub("/+$", "")
  local all = collect(specs)
  local inputs = {}
  for _, p in ipairs(all) do
    if not opts.shard or shard_of(p, opts.shard[2]) == opts.shard[1] - 1 then inputs[#inputs + 1] = p end
  end
  pj.mkdir(out)
  local report_path = out .. "/report.jsonl"
  local skip = opts.resume and completed(report_path) or {}
  local todo = {}
  for _, p in ipairs(inputs) do if not skip[p] then todo[#todo + 1] = p end end
  if opts.dry_run then
    for _, p in ipairs(todo) do io.write(p, "\n") end
    io.stderr:write(string.format("pixjit batch: %d inputs (%d in this shard, %d already done)\n",
                                  #all, #inputs, #inputs - #todo))
    return 0
  end
  sweep(out)
  local report = assert(io.open(report_path, opts.resume and "a" or "w"))

  -- Workers times kernel threads stay within the thread budget.
  local budget = pj.threads()
  local workers_n = math.max(1, math.min(opts.threads or job.threads or budget, #todo))
  local kthreads = math.max(1, math.floor(budget / workers_n))
  local state = { done = 0, total = #todo, failed = 0, t0 = pj.now(), last_line = pj.now(),
                  tty = sys.isatty(2), quiet = opts.quiet }
  local step_ms, step_n, failures = {}, {}, {}
  local function record(res)
    local outs = {}
    for i, o in ipairs(res.outputs or {}) do outs[i] = cjson.encode(o) end
    report:write(string.format('{"path": %s, "status": %s, "error": %s, "ms": %s, "outputs": [%s]}\n',
                               cjson.encode(res.path), cjson.encode(res.status),
                               res.error and cjson.encode(res.error) or "null",
                               next(res.ms or {}) and cjson.encode(res.ms) or "{}",
                               table.concat(outs, ", ")))
    report:flush()
    state.done = state.done + 1
    if res.status ~= "ok" then
      state.failed = state.failed + 1
      failures[#failures + 1] = res.path .. ": " .. tostring(res.error)
    end
    for k, v in pairs(res.ms or {}) do
      step_ms[k] = (step_ms[k] or 0) + v
      step_n[k] = (step_n[k] or 0) + 1
    end
    progress(state)
  end

  local workers, next_task = {}, 1
  local function assign(w)
    if next_task > #todo then return false end
    w.task = next_task
    next_task = next_task + 1
    if not sys.write_all(w.wfd, cjson.encode(todo[w.task]) .. "\n") then return false end
    return true
  end
  for i = 1, workers_n do
    workers[i] = spawn(opts.job, out, kthreads)
    assign(workers[i])
  end
  local pfds = ffi.new("pj_pollfd[?]", workers_n)
  while state.done < #todo do
    for i, w in ipairs(workers) do pfds[i - 1].fd, pfds[i - 1].events, pfds[i - 1].revents = w.rfd, 1, 0 end
    sys.C.poll(pfds, workers_n, 1000)
    for i, w in ipairs(workers) do
      if pfds[i - 1].revents ~= 0 then
        local alive = w.reader.fill()
        local line = w.reader.line()
        while line do
          local ok, res = pcall(cjson.decode, line)
          if ok and w.task then
            record(res)
            w.task = nil
            assign(w)
          end
          line = w.reader.line()
        end
        if not alive then
          -- The worker died: its input crashed it.  Record and replace it.
          local how, code = sys.reap(w.pid, true)
          if w.task then
            record({ path = todo[w.task], status = "crashed",
                     error = how == "signal" and ("worker killed by signal " .. code) or
                             ("worker exited with status " .. tostring(code)), ms = {} })
          end
          sys.C.close(w.wfd)
          sys.C.close(w.rfd)
          workers[i] = spawn(opts.job, out, kthreads)
          assign(workers[i])
        end
      end
    end
  end
  for _, w in ipairs(workers) do retire(w) end
  report:close()
  progress(state, true)

  if not opts.quiet then
    local dt = pj.now() - state.t0
    io.stderr:write(string.format("pixjit batch: %d inputs, %d ok, %d failed, %d skipped (done before) in %.2f s (%.1f/s)\n",
                                  #inputs, state.done - state.failed, state.failed, #inputs - #todo, dt,
                                  state.done / math.max(dt, 1e-9)))
    local names = {}
    for k in pairs(step_ms) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      io.stderr:write(string.format("  %-14s %8.2f ms per input\n", k, step_ms[k] / step_n[k]))
    end
    for i, f in ipairs(failures) do
      if i > 20 then io.stderr:write(string.format("  ... and %d more (see %s)\n", #failures - 20, report_path)); break end
      io.stderr:write("  failed: ", f, "\n")
    end
  end
  return state.failed == 0 and 0 or 1
end

return M
