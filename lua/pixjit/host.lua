-- pixjit.host: the command line of bin/pixjit.  Flags follow luajit's
-- (-e, -l, -j, -O, -i, -v, -, --) plus pixjit's own (--batch, --profile,
-- --info, --threads).  M.parse turns argv into a plan without side
-- effects; M.run carries the plan out, every chunk through the host's one
-- docall (traceback, Ctrl-C, collection after an error).
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
  --profile-sample[=MS]  sample lines with LuaJIT's profiler (every MS ms, 1,
                    or the kernel's tick) instead: wall time per line, JIT on
  --profile-out FILE     write the profile to FILE instead of stdout
  --batch JOB       run a batch job (a Lua file returning a table, or JSON) with:
    --input PATH    input glob, directory, list file or - (repeatable; replaces the job's)
    --output DIR    output directory        --shard K/N   this machine's share (auto[/N]: the scheduler's)
    --resume        skip inputs already done   --dry-run   list the inputs only
    --quiet         no progress or summary
  --help            show this help
  --                stop handling options
  -                 run stdin as a script (also the default when stdin is not a terminal)
The module `pixjit` is preloaded as the global `pj`.]=]

local function stderr(...) io.stderr:write(...) end

-- The host's docall (src/host/main.c); plain pcall where there is no host.
local hostlib = package.loaded["pixjit.hostlib"]
M.docall = hostlib and hostlib.docall or pcall

-- ---- Parsing -----------------------------------------------------------------

-- Flags that take the next argument (or, for the short ones, the rest of
-- the same argument), and the action each adds.
local WITH_VALUE = { ["-e"] = "e", ["-l"] = "l", ["-j"] = "j" }
local BATCH_FLAGS = { ["--input"] = true, ["--output"] = true, ["--shard"] = true }
local BATCH_SWITCHES = { ["--resume"] = "resume", ["--dry-run"] = "dry_run", ["--quiet"] = "quiet" }

local function parse_shard(v)
  if v == "auto" then return { auto = true } end
  local an = v:match("^auto/(%d+)$")
  if an then
    if tonumber(an) < 1 then return nil, "--shard auto/N needs N >= 1" end
    return { auto = true, n = tonumber(an) }
  end
  local k, n = v:match("^(%d+)/(%d+)$")
  k, n = tonumber(k), tonumber(n)
  if not k or n < 1 or k < 1 or k > n then return nil, "--shard needs K/N with 1 <= K <= N, auto or auto/N" end
  return { k, n }
end

local function parse_sample(v)
  local ms = tonumber(v)
  if not ms or ms < 1 or ms % 1 ~= 0 then return nil, "--profile-sample needs a whole number of milliseconds" end
  return ms
end

-- One pixjit flag at argv[i] into plan p; returns the index of the last
-- argument it used, or nil and a message.
local function parse_flag(argv, i, p)
  local a = argv[i]
  local key = a:match("^(%-%-[%w-]+)=") -- --flag=value
  local inline = key and a:sub(#key + 2)
  if key then a = key end
  local function need()
    if inline then return inline end
    if argv[i + 1] == nil then return nil end
    i = i + 1
    return argv[i]
  end
  local v
  if a == "--info" then p.actions[#p.actions + 1] = { "info" }; return i
  elseif BATCH_SWITCHES[a] then p.batch = p.batch or {}; p.batch[BATCH_SWITCHES[a]] = true; return i
  elseif a == "--profile" then p.profile = p.profile or "lines"; return i
  elseif a == "--profile-sample" then
    p.profile = "sample"
    if inline then
      local ms, err = parse_sample(inline)
      if not ms then return nil, err end
      p.sample_ms = ms
    end
    return i
  elseif a == "--batch-worker" then
    p.worker = { need(), need(), need() }
    if p.worker[3] == nil then return nil, "option '--batch-worker' needs 3 arguments" end
    return i
  elseif a ~= "--threads" and a ~= "--batch" and a ~= "--profile-out" and not BATCH_FLAGS[a] then
    return nil, "unknown option '" .. argv[i] .. "'\n" .. USAGE
  end
  v = need()
  if v == nil then return nil, "option '" .. a .. "' needs an argument" end
  if a == "--threads" then p.actions[#p.actions + 1] = { "threads", v }
  elseif a == "--batch" then p.batch = p.batch or {}; p.batch.job = v
  elseif a == "--profile-out" then p.profile_out = v; p.profile = p.profile or "lines"
  else
    p.batch = p.batch or {}
    if a == "--input" then p.batch.inputs = p.batch.inputs or {}; table.insert(p.batch.inputs, v)
    elseif a == "--output" then p.batch.output = v
    else
      local shard, err = parse_shard(v)
      if not shard then return nil, err end
      p.batch.shard = shard
    end
  end
  return i
end

-- argv[i] into plan p: the index of the next argument to read, "stop"
-- when the script (or the end of options) is reached, or nil and a
-- message.
local function parse_arg(argv, i, p)
  local a = argv[i]
  local short = a:sub(1, 2)
  if a == "--" then p.script = argv[i + 1] and i + 1 or nil; return "stop"
  elseif a == "-" then p.script = i; return "stop"
  elseif a == "--help" or a == "-h" then p.help = true
  elseif a == "-v" or a == "--version" then p.version = true
  elseif a == "-i" then p.interactive = true
  elseif WITH_VALUE[short] then
    local v = #a > 2 and a:sub(3) or argv[i + 1]
    if #a == 2 then i = i + 1 end
    if v == nil then return nil, "option '" .. a .. "' needs an argument" end
    p.actions[#p.actions + 1] = { WITH_VALUE[short], v }
  elseif short == "-O" then p.actions[#p.actions + 1] = { "O", a:sub(3) }
  elseif short == "--" then
    local last, err = parse_flag(argv, i, p)
    if not last then return nil, err end
    i = last
  elseif a:sub(1, 1) == "-" then return nil, "unknown option '" .. a .. "'\n" .. USAGE
  else p.script = i; return "stop" end
  return i + 1
end

-- argv (argv[0] the program) -> plan, or nil and a message.  A plan holds
-- actions (in order), the script's index, and the modes asked for.
function M.parse(argv)
  local p = { actions = {} }
  local i = 1
  while i <= #argv do
    local nxt, err = parse_arg(argv, i, p)
    if not nxt then return nil, err end
    if nxt == "stop" then break end
    i = nxt
  end
  if p.batch and not p.batch.job then
    return nil, "--input, --output, --shard, --resume, --dry-run and --quiet need --batch JOB"
  end
  for _, act in ipairs(p.actions) do
    if act[1] == "threads" then
      local t = tonumber(act[2])
      if not t or t < 1 or t % 1 ~= 0 then
        return nil, "--threads needs a positive integer, got '" .. tostring(act[2]) .. "'"
      end
      act[2] = t
      if p.batch then p.batch.threads = t end
    end
  end
  return p
end

-- ---- Running -----------------------------------------------------------------

-- Runs fn(...) through docall; an error is reported as luajit does.
-- Returns true on success.
local function protected(fn, ...)
  local ok, err = M.docall(fn, ...)
  if not ok then stderr("pixjit: ", tostring(err), "\n") end
  return ok
end
M.protected = protected

local function dojit(cmd)
  local name, opt = cmd:match("^([%w_]+)=?(.*)$")
  if not name then require("pixjit.core").raise("invalid -j option '" .. cmd .. "'", 0) end
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
  if path == "-" then return loadstring(io.stdin:read("*a"), "=stdin") end
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

local ACTIONS = {
  e = function(v)
    local fn, err = loadstring(v, "=(command line)")
    if not fn then stderr("pixjit: ", err, "\n"); return false end
    return protected(fn)
  end,
  l = function(v) return protected(function() _G[v] = require(v) end) end,
  j = function(v) return protected(dojit, v) end,
  O = function(v) return protected(doopt, v) end,
  threads = function(v) _G.pj.threads(v); return true end,
  info = function() return protected(function() require("pixjit.info").print() end) end,
}

-- The script's chunk under the profiler the plan names; returns success.
local function run_profiled(p, fn, source, args)
  local prof = require "pixjit.profile"
  local out = io.stdout
  if p.profile_out then
    local err
    out, err = io.open(p.profile_out, "w")
    if not out then stderr("pixjit: --profile-out: ", err, "\n"); return false end
  end
  local run = p.profile == "sample" and prof.run_sampled or prof.run_lines
  local res = { run(fn, source, out, { call = M.docall, ms = p.sample_ms }, unpack(args, 1, args.n)) }
  if out ~= io.stdout then out:close() end
  if not res[1] then stderr("pixjit: ", tostring(res[2]), "\n") end
  return res[1]
end

-- The script named at argv[p.script], with its arguments.
local function run_script(p, argv)
  local path = argv[p.script]
  local fn, err = load_script(path)
  if not fn then
    stderr("pixjit: ", err or ("cannot read " .. path), "\n")
    return false
  end
  local args = { n = #argv - p.script }
  for k = 1, args.n do args[k] = argv[p.script + k] end
  if p.profile then
    return run_profiled(p, fn, path == "-" and "=stdin" or "@" .. path, args)
  end
  return protected(fn, unpack(args, 1, args.n))
end

-- Carries out plan p for argv; returns the exit status.
function M.run(p, argv)
  if p.help then io.write(USAGE, "\n"); return 0 end
  -- arg as in luajit: arg[0] the script, arg[1..] its arguments, negative
  -- indices the interpreter and options.
  local arg, base = {}, p.script or (#argv + 1)
  for k = 0, #argv do arg[k - base] = argv[k] end
  _G.arg = arg
  _G.pj = require "pixjit"
  if p.worker then
    local code
    if not protected(function() code = require("pixjit.batch").worker(unpack(p.worker)) end) then return 1 end
    return code
  end
  if p.version then io.write("pixjit ", _G.pj.version, " (", jit.version, ")\n") end
  for _, act in ipairs(p.actions) do
    if not ACTIONS[act[1]](act[2]) then return 1 end
  end
  if p.batch then
    local code
    if not protected(function() code = require("pixjit.batch").run(p.batch) end) then return 1 end
    return code
  end
  if p.script then
    if not run_script(p, argv) then return 1 end
    if p.interactive then return require("pixjit.repl").run() end
  elseif p.interactive or (#p.actions == 0 and not p.version) then
    local repl = require "pixjit.repl"
    if p.interactive or repl.stdin_is_tty() then return repl.run() end
    local fn, err = load_script("-")
    if not fn then stderr("pixjit: ", err, "\n"); return 1 end
    if not protected(fn) then return 1 end
  end
  io.stdout:flush()
  return 0
end

function M.main(argv)
  local p, err = M.parse(argv)
  if not p then stderr("pixjit: ", err, "\n"); return 1 end
  return M.run(p, argv)
end

return M
