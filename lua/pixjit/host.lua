-- pixjit.host: the command line of bin/pixjit.  Flags follow luajit's
-- (-e, -l, -j, -O, -i, -v, -, --) plus pixjit's own (--batch, --profile,
-- --info, --threads).
local M = {}

local USAGE = [=[
usage: pixjit [options] [script [args...]]
  -e chunk          run the string 'chunk'
  -l name           require library 'name' (stored in the global of that name)
  -j cmd            LuaJIT JIT control (-jon, -joff, -jflush, -jv, -jdump, -jp)
  -O[opt]           LuaJIT optimiser control (-O3, -Ohotloop=10, -O-fold, ...)
  -i                enter the interactive prompt after running the script
  -v, --version     show the version
  --threads N       threads for kernels (default: CPUs allowed by affinity and quota)
  --info            versions, CPUs, quota and the thread count chosen
  --profile         run the script under the line profiler and print a
                    kernprof-style table (only pj.profile'd functions if any)
  --profile-sample[=MS]  sample lines with LuaJIT's profiler every MS ms (1)
                    instead: keeps the JIT on, for loops written in Lua
  --profile-out FILE     write the profile to FILE instead of stdout
  --batch JOB       run a batch job (a Lua file returning a table, or JSON) with:
    --input PATH    input glob, directory, list file or - (repeatable; replaces the job's)
    --output DIR    output directory        --shard K/N   this machine's share
    --resume        skip inputs already done   --dry-run   list the inputs only
    --quiet         no progress or summary
  --help            show this help
  --                stop handling options
  -                 run stdin as a script (also the default when stdin is not a terminal)
The module `pixjit` is preloaded as the global `pj`.]=]

local function stderr(...) io.stderr:write(...) end

-- The traceback stops at the host's own frames: users see their code only.
local function errhandler(e)
  local msg = type(e) == "string" and e or tostring(e)
  local tb = debug.traceback(msg, 2)
  return (tb:gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
end

-- Runs fn(...) reporting an error as luajit does; returns true on success.
local function protected(fn, ...)
  local ok, err = xpcall(fn, errhandler, ...)
  if not ok then
    stderr("pixjit: ", tostring(err), "\n")
    return false
  end
  return true
end

local function dojit(cmd)
  local name, opt = cmd:match("^([%w_]+)=?(.*)$")
  if not name then error("invalid -j option '" .. cmd .. "'", 0) end
  if name == "on" or name == "off" or name == "flush" then
    jit[name]()
    return
  end
  local mod = require("jit." .. name)
  if opt ~= "" then mod.start(opt) else mod.start() end
end

local function doopt(spec)
  local args = {}
  for part in spec:gmatch("[^,]+") do args[#args + 1] = part end
  if #args == 0 then args[1] = "3" end
  jit.opt.start(unpack(args))
end

local function load_script(path)
  if path == "-" then
    local code = io.stdin:read("*a")
    return loadstring(code, "=stdin")
  end
  return loadfile(path)
end

-- os.exit closes the Lua state by default in pixjit, so finalizers free
-- every image before the process ends (as at a normal return): leak
-- checkers then see a clean exit, and nothing depends on exit order.
local raw_exit = os.exit
os.exit = function(code, close)
  if close == nil then close = true end
  io.stdout:flush()
  return raw_exit(code, close)
end

function M.main(argv)
  local i, n = 1, #argv
  local actions = {}
  local interactive, show_version, script_index = false, false, nil
  local profile, profile_out, sample_ms = nil, nil, nil
  local batch = nil
  local function need(flag)
    if i + 1 > n then error("option '" .. flag .. "' needs an argument", 0) end
    i = i + 1
    return argv[i]
  end
  while i <= n do
    local a = argv[i]
    if a == "--" then i = i + 1; script_index = i <= n and i or nil; break
    elseif a == "-" then script_index = i; break
    elseif a == "--help" or a == "-h" then io.write(USAGE, "\n"); return 0
    elseif a == "-v" or a == "--version" then show_version = true
    elseif a == "-i" then interactive = true
    elseif a == "-e" then actions[#actions + 1] = { "e", need(a) }
    elseif a:sub(1, 2) == "-e" then actions[#actions + 1] = { "e", a:sub(3) }
    elseif a == "-l" then actions[#actions + 1] = { "l", need(a) }
    elseif a:sub(1, 2) == "-l" then actions[#actions + 1] = { "l", a:sub(3) }
    elseif a == "-j" then actions[#actions + 1] = { "j", need(a) }
    elseif a:sub(1, 2) == "-j" then actions[#actions + 1] = { "j", a:sub(3) }
    elseif a:sub(1, 2) == "-O" then actions[#actions + 1] = { "O", a:sub(3) }
    elseif a == "--threads" then actions[#actions + 1] = { "threads", need(a) }
    elseif a:match("^%-%-threads=") then actions[#actions + 1] = { "threads", a:match("=(.*)") }
    elseif a == "--info" then actions[#actions + 1] = { "info" }
    elseif a == "--batch-worker" then
      -- Internal: a batch worker process (see pixjit.batch).
      local job, out, threads = need(a), need(a), need(a)
      _G.pj = require "pixjit"
      local code
      if not protected(function() code = require("pixjit.batch").worker(job, out, threads) end) then return 1 end
      return code
    elseif a == "--batch" then batch = batch or {}; batch.job = need(a)
    elseif a == "--input" then batch = batch or {}; batch.inputs = batch.inputs or {}; table.insert(batch.inputs, need(a))
    elseif a == "--output" then batch = batch or {}; batch.output = need(a)
    elseif a == "--shard" then
      batch = batch or {}
      local k, n = need(a):match("^(%d+)/(%d+)$")
      k, n = tonumber(k), tonumber(n)
      if not k or n < 1 or k < 1 or k > n then stderr("pixjit: --shard needs K/N with 1 <= K <= N\n"); return 1 end
      batch.shard = { k, n }
    elseif a == "--resume" then batch = batch or {}; batch.resume = true
    elseif a == "--dry-run" then batch = batch or {}; batch.dry_run = true
    elseif a == "--quiet" then batch = batch or {}; batch.quiet = true
    elseif a == "--profile" then profile = profile or "lines"
    elseif a == "--profile-sample" then profile = "sample"
    elseif a:match("^%-%-profile%-sample=") then
      profile, sample_ms = "sample", tonumber(a:match("=(.*)"))
      if not sample_ms or sample_ms < 1 or sample_ms % 1 ~= 0 then
        stderr("pixjit: --profile-sample needs a whole number of milliseconds\n")
        return 1
      end
    elseif a == "--profile-out" then profile_out = need(a); profile = profile or "lines"
    elseif a:sub(1, 1) == "-" then
      stderr("pixjit: unknown option '", a, "'\n", USAGE, "\n")
      return 1
    else script_index = i; break end
    i = i + 1
  end

  -- arg as in luajit: arg[0] the script, arg[1..] its arguments, negative
  -- indices the interpreter and options.
  local arg = {}
  local base = script_index or (n + 1)
  for k = 0, n do arg[k - base] = argv[k] end
  _G.arg = arg

  if show_version then
    io.write("pixjit ", require("pixjit").version, " (", jit.version, ")\n")
  end
  _G.pj = require "pixjit"

  for _, act in ipairs(actions) do
    local kind, v = act[1], act[2]
    local ok
    if kind == "e" then
      ok = protected(function()
        local fn, err = loadstring(v, "=(command line)")
        if not fn then error(err, 0) end
        return fn()
      end)
    elseif kind == "l" then
      ok = protected(function() _G[v] = require(v) end)
    elseif kind == "j" then
      ok = protected(dojit, v)
    elseif kind == "O" then
      ok = protected(doopt, v)
    elseif kind == "threads" then
      local t = tonumber(v)
      if not t or t < 1 or t % 1 ~= 0 then
        stderr("pixjit: --threads needs a positive integer, got '", tostring(v), "'\n")
        return 1
      end
      pj.threads(t)
      ok = true
    elseif kind == "info" then
      ok = protected(function() require("pixjit.info").print() end)
    end
    if not ok then return 1 end
  end

  if batch then
    if not batch.job then stderr("pixjit: --input, --output, --shard, --resume, --dry-run and --quiet need --batch JOB\n"); return 1 end
    for _, act in ipairs(actions) do
      if act[1] == "threads" then batch.threads = tonumber(act[2]) end
    end
    local code
    if not protected(function() code = require("pixjit.batch").run(batch) end) then return 1 end
    return code
  end
  local ran_something = #actions > 0 or show_version
  if script_index then
    local path = argv[script_index]
    local fn, err = load_script(path)
    if not fn then
      stderr("pixjit: ", err or ("cannot read " .. path), "\n")
      return 1
    end
    local args = {}
    for k = 1, #arg do args[k] = arg[k] end
    if profile then
      local prof = require "pixjit.profile"
      local out = io.stdout
      if profile_out then
        local err
        out, err = io.open(profile_out, "w")
        if not out then stderr("pixjit: --profile-out: ", err, "\n"); return 1 end
      end
      local source = path == "-" and "=stdin" or "@" .. path
      local ok = protected(function()
        local res
        if profile == "sample" then
          res = { prof.run_sampled(fn, source, out, sample_ms, unpack(args, 1, #arg)) }
        else
          res = { prof.run_lines(fn, source, out, unpack(args, 1, #arg)) }
        end
        if not res[1] then error(res[2], 0) end
      end)
      if out ~= io.stdout then out:close() end
      if not ok then return 1 end
    elseif not protected(fn, unpack(args, 1, #arg)) then return 1 end
  elseif not ran_something or interactive then
    local repl = require "pixjit.repl"
    if interactive or repl.stdin_is_tty() then
      return repl.run()
    end
    local fn, err = load_script("-")
    if not fn then stderr("pixjit: ", err, "\n"); return 1 end
    if not protected(fn) then return 1 end
  end
  if interactive and script_index then return require("pixjit.repl").run() end
  io.stdout:flush()
  return 0
end

return M
