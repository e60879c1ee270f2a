-- pixjit.batch: `bin/pixjit --batch JOB`.  A job (a Lua file returning a
-- table, or JSON) names inputs, an output directory and steps; the runner
-- spreads inputs over worker processes, so a failing or even crashing step
-- loses only its own input.  Every output is written under a temporary
-- name and renamed; OUT/report.jsonl gets one line per input; --resume
-- skips inputs already done; --shard K/N splits inputs by a hash of their
-- path so N machines share a job without coordination.  The parts live in
-- pixjit/batch/: job, inputs, outputs, steps, report, pool, progress.
local pj = require "pixjit"
local core = require "pixjit.core"
local json = require "pixjit.json"
local sys = require "pixjit.sys"
local job_file = require "pixjit.batch.job"
local inputs = require "pixjit.batch.inputs"
local outputs = require "pixjit.batch.outputs"
local steps = require "pixjit.batch.steps"
local report = require "pixjit.batch.report"
local pool = require "pixjit.batch.pool"
local progress = require "pixjit.batch.progress"

local M = {}
M.expand = outputs.expand
M.shard_of = inputs.shard_of
M.run_input = steps.run_input
M.STEPS = steps.STEPS

-- Worker mode (bin/pixjit --batch-worker JOB OUT THREADS): reads input
-- paths (JSON strings, one a line) on fd 3, writes each input's records
-- (a JSON array, one record per page) a line on fd 4, until fd 3 closes.
function M.worker(job_path, out, kthreads)
  local job = job_file.load(job_path)
  pj.threads(tonumber(kthreads) or 1)
  local rd = sys.reader(3)
  while true do
    local line = rd.line()
    while not line do
      if not rd.fill() then return 0 end
      line = rd.line()
    end
    local input = json.decode(line)
    local ok, res = pcall(steps.run_input, job, out, input)
    if not ok then res = { { path = inputs.path_of(input), status = "error", error = tostring(res), ms = {} } } end
    if not sys.write_all(4, json.encode(res) .. "\n") then return 1 end
    collectgarbage()
  end
end

-- The job, its output directory, its inputs (all, and this shard's) and
-- the shard ({k, n}, or nil).
local function plan(opts)
  local job = job_file.load(opts.job)
  local specs = opts.inputs and #opts.inputs > 0 and opts.inputs or job.inputs
  if type(specs) == "string" then specs = { specs } end
  if type(specs) ~= "table" or #specs == 0 then core.raise("--batch: no inputs (job.inputs or --input)", 0) end
  local out = opts.output or job.output
  if type(out) ~= "string" or out == "" then core.raise("--batch: no output directory (job.output or --output)", 0) end
  local shard = opts.shard
  if shard and shard.auto then
    local why
    shard, why = inputs.auto_shard(shard.n)
    if not opts.quiet then io.stderr:write("pixjit batch: --shard auto: ", why, "\n") end
  end
  local all = inputs.collect(specs)
  return job, out:gsub("/+$", ""), all, inputs.select(all, shard), shard
end

-- The cause of an environment failure, for the message that stops a run.
local function env_cause(rec)
  local name = rec.errno and (sys.ENV_ERRORS[rec.errno] or rec.errno == 2 and "ENOENT")
  return (name and (name .. ": ") or "") .. tostring(rec.error)
end

-- opts: job, inputs (list), output, threads, shard {k, n} or {auto, n},
-- resume, dry_run, quiet.  Returns the exit status: 0 all done, 1 some
-- inputs failed, 2 the environment failed (the run stopped).
function M.run(opts)
  local job, out, all, mine, shard = plan(opts)
  if #all == 0 then
    -- A pattern that matched nothing is a mistake, not an empty success.
    io.stderr:write("pixjit batch: no inputs: ", table.concat(opts.inputs and #opts.inputs > 0 and opts.inputs
      or type(job.inputs) == "table" and job.inputs or { tostring(job.inputs) }, ", "), " matched nothing\n")
    return 1
  end
  local skip = opts.resume and report.completed(out) or {}
  local todo = {}
  for _, p in ipairs(mine) do if not skip[inputs.path_of(p)] then todo[#todo + 1] = p end end
  if opts.dry_run then
    for _, p in ipairs(todo) do io.write(inputs.path_of(p), "\n") end
    io.stderr:write(string.format("pixjit batch: %d inputs (%d in this shard, %d already done)\n",
                                  #all, #mine, #mine - #todo))
    return 0
  end
  pj.mkdir(out)
  outputs.sweep(out)
  local report_path = report.path(out, shard)
  local rep = report.open(report_path, opts.resume)
  -- Workers times kernel threads stay within the thread budget.
  local budget = pj.threads()
  local nworkers = math.max(1, math.min(opts.threads or job.threads or budget, #todo))
  local state = progress.new(#todo, sys.isatty(2), opts.quiet)
  local env -- the first environment failure: the run stops on it
  pool.run(opts.job, out, todo, nworkers, math.max(1, math.floor(budget / nworkers)), function(recs)
    for _, rec in ipairs(recs) do
      if rec.status == "env" then
        env = env or rec
        rec.status = "error"
      end
      local ok, errno = rep.write(rec)
      if not ok and not env then
        env = { path = report_path, errno = errno, error = report_path .. ": " .. sys.errstr() }
      end
    end
    progress.add(state, recs)
    progress.show(state)
  end, function()
    if env then return "abort" end
    return state.done >= #todo
  end)
  rep.close()
  -- Again at the end: the workers of a batch killed just before this one
  -- started may still have been dying (and holding their temporary files)
  -- at the first sweep.
  outputs.sweep(out)
  progress.show(state, true)
  progress.summary(state, #mine, #mine - #todo, report_path)
  if env then
    io.stderr:write(string.format("pixjit batch: stopped: %s: %s (the machine, not the input, failed; "
      .. "run again with --resume once it is fixed)\n", env.path, env_cause(env)))
    return 2
  end
  return state.failed == 0 and 0 or 1
end

return M
