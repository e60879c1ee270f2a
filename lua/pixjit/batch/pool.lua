-- pixjit.batch.pool: worker processes.  Each worker is a fresh pixjit
-- exec'd in worker mode, so a crash (even in a user's FFI step) loses
-- only the input it was on; the pool replaces the worker and goes on.
local ffi = require "ffi"
local core = require "pixjit.core"
local json = require "pixjit.json"
local sys = require "pixjit.sys"

local M = {}

-- Starts a worker: fork, then exec a fresh pixjit in worker mode, so no
-- state of this process (an OpenMP thread pool a job file started, which
-- a forked child would deadlock on, or the Lua heap) carries over.  Tasks
-- go to the worker on its fd 3 and results come back on its fd 4, so a
-- step that prints to stdout cannot disturb them.  The pipes are
-- close-on-exec, so workers never hold each other's ends.
local function spawn(job_path, out, kthreads)
  local to, from = ffi.new("int[2]"), ffi.new("int[2]")
  if sys.C.pipe2(to, sys.O_CLOEXEC) ~= 0 or sys.C.pipe2(from, sys.O_CLOEXEC) ~= 0 then
    core.raise("--batch: pipe: " .. sys.errstr(), 0)
  end
  local argv = ffi.new("char *[6]")
  local keep = { "pixjit", "--batch-worker", job_path, out, tostring(kthreads) }
  for i, a in ipairs(keep) do argv[i - 1] = ffi.cast("char *", a) end
  io.stdout:flush()
  io.stderr:flush()
  local pid = sys.C.fork()
  if pid < 0 then core.raise("--batch: fork: " .. sys.errstr(), 0) end
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

-- Ends worker w: when `now`, killing it mid-input (its input is left
-- unreported, for --resume).
local function retire(w, now)
  sys.C.close(w.wfd)
  sys.C.close(w.rfd)
  if now then sys.C.kill(w.pid, 9) end
  sys.reap(w.pid, true)
end

-- Hands the next task to worker w; false when there is none.
local function assign(pool, w)
  if pool.next > #pool.todo then return false end
  w.task = pool.next
  pool.next = pool.next + 1
  return sys.write_all(w.wfd, json.encode(pool.todo[w.task]) .. "\n")
end

-- Reads what worker i has sent; replaces it when it died.
local function drain(pool, i, on_result)
  local w = pool.workers[i]
  local alive = w.reader.fill()
  local line = w.reader.line()
  while line do
    local ok, res = pcall(json.decode, line)
    if ok and w.task then
      on_result(res)
      w.task = nil
      assign(pool, w)
    end
    line = w.reader.line()
  end
  if alive then return end
  -- The worker died: its input crashed it.  Record and replace it.
  local how, code = sys.reap(w.pid, true)
  if w.task then
    local task = pool.todo[w.task]
    on_result({ { path = type(task) == "table" and task.path or task, status = "crashed", ms = {},
                  error = how == "signal" and ("worker killed by signal " .. code) or
                          ("worker exited with status " .. tostring(code)) } })
  end
  sys.C.close(w.wfd)
  sys.C.close(w.rfd)
  pool.workers[i] = spawn(pool.job_path, pool.out, pool.kthreads)
  assign(pool, pool.workers[i])
end

-- Runs every input of todo through `nworkers` workers of `kthreads`
-- kernel threads each, calling on_result(records) as results arrive (one
-- record per page of an input), until done() says to stop: true when all
-- are in, "abort" to kill the workers mid-input.
function M.run(job_path, out, todo, nworkers, kthreads, on_result, done)
  local pool = { job_path = job_path, out = out, todo = todo, next = 1, kthreads = kthreads,
                 workers = {} }
  for i = 1, nworkers do
    pool.workers[i] = spawn(job_path, out, kthreads)
    assign(pool, pool.workers[i])
  end
  local pfds = ffi.new("pj_pollfd[?]", nworkers)
  local stop = done()
  while not stop do
    for i, w in ipairs(pool.workers) do pfds[i - 1].fd, pfds[i - 1].events, pfds[i - 1].revents = w.rfd, 1, 0 end
    sys.C.poll(pfds, nworkers, 1000)
    for i = 1, nworkers do
      if pfds[i - 1].revents ~= 0 then drain(pool, i, on_result) end
      stop = done()
      if stop then break end
    end
  end
  for _, w in ipairs(pool.workers) do retire(w, stop == "abort") end
end

return M
