-- pixjit.batch.inputs: the inputs of a job (globs, directories, list
-- files, JSON Lines manifests, stdin) and the share of them one shard
-- takes.  An input is a path, or for a manifest line a record: a table
-- with `path` and the line's other fields (a line that is not such an
-- object becomes a record with `error`, which fails alone).
local bit = require "bit"
local core = require "pixjit.core"
local json = require "pixjit.json"
local sys = require "pixjit.sys"

local M = {}

local IMAGE_EXT = { png = true, jpg = true, jpeg = true, tif = true, tiff = true, webp = true,
                    npy = true }

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

-- A JSON Lines manifest: one object with "path" a line.
local function add_manifest(list, path)
  local f, err = io.open(path, "r")
  if not f then core.raise("--batch: manifest " .. err, 0) end
  local n = 0
  for line in f:lines() do
    n = n + 1
    if line:match("%S") then
      local ok, rec = pcall(json.decode, line)
      local where = path .. ":" .. n
      if not ok then
        list[#list + 1] = { path = where, error = "line " .. n .. ": invalid JSON: " .. tostring(rec) }
      elseif type(rec) ~= "table" or type(rec.path) ~= "string" or rec.path == "" then
        list[#list + 1] = { path = where, error = "line " .. n .. ": expected an object with a \"path\" string" }
      else
        rec.line = n
        list[#list + 1] = rec
      end
    end
  end
  f:close()
end

local function add_spec(list, spec)
  if spec:match("%.jsonl$") then
    add_manifest(list, spec)
  elseif spec == "-" then
    add_lines(list, io.stdin)
  elseif spec:match("^@") or spec:match("%.txt$") or spec:match("%.list$") then
    local f, err = io.open(spec:gsub("^@", ""), "r")
    if not f then core.raise("--batch: input list " .. err, 0) end
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

-- The path an input stands for.
function M.path_of(input) return type(input) == "table" and input.path or input end

-- Inputs from globs, directories, list files ("@file" or *.txt/*.list),
-- manifests (*.jsonl) and "-" (paths on stdin); sorted by path, without
-- duplicate paths (the first record of a path wins).
function M.collect(specs)
  local list = {}
  for _, spec in ipairs(specs) do add_spec(list, spec) end
  local out, seen = {}, {}
  for _, p in ipairs(list) do
    local key = M.path_of(p)
    if not seen[key] then seen[key] = true; out[#out + 1] = p end
  end
  table.sort(out, function(a, b) return M.path_of(a) < M.path_of(b) end)
  return out
end

-- FNV-1a of the path: a shard assignment that does not depend on which
-- other inputs a machine sees.
function M.shard_of(path, n)
  local h = 2166136261
  for i = 1, #path do
    h = bit.tobit(bit.bxor(h, path:byte(i)) * 16777619)
  end
  return (h % n + n) % n
end

-- The inputs of shard {k, n} (all of them without one).
function M.select(all, shard)
  if not shard then return all end
  local mine = {}
  for _, p in ipairs(all) do
    if M.shard_of(M.path_of(p), shard[2]) == shard[1] - 1 then mine[#mine + 1] = p end
  end
  return mine
end

-- --shard auto: this task's shard from the scheduler's environment (Slurm
-- array jobs; Kubernetes Indexed Jobs, with the count from auto/N or
-- PIXJIT_SHARDS).  Returns {k, n} and a line saying where it came from.
function M.auto_shard(n_given, env)
  env = env or os.getenv
  local function num(name)
    local v = env(name)
    return v and v:match("^%d+$") and tonumber(v) or nil
  end
  local id = num("SLURM_ARRAY_TASK_ID")
  if id then
    local lo, hi = num("SLURM_ARRAY_TASK_MIN") or 0, num("SLURM_ARRAY_TASK_MAX")
    local step = num("SLURM_ARRAY_TASK_STEP") or 1
    local count = num("SLURM_ARRAY_TASK_COUNT") or (hi and math.floor((hi - lo) / step) + 1)
    if n_given then count = n_given end
    if not count then core.raise("--shard auto: SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT", 0) end
    local k = math.floor((id - lo) / step) + 1
    if step < 1 or k < 1 or k > count then
      core.raise(string.format("--shard auto: SLURM_ARRAY_TASK_ID=%d is not in the array (min %d, step %d, count %d)",
                               id, lo, step, count), 0)
    end
    return { k, count }, string.format("shard %d/%d (SLURM_ARRAY_TASK_ID=%d, MIN=%d, STEP=%d, COUNT=%d)",
                                       k, count, id, lo, step, count)
  end
  local index = num("JOB_COMPLETION_INDEX")
  if index then
    local count = n_given or num("PIXJIT_SHARDS")
    if not count then
      core.raise("--shard auto: JOB_COMPLETION_INDEX is set; give the count as --shard auto/N or PIXJIT_SHARDS", 0)
    end
    if index >= count then
      core.raise(string.format("--shard auto: JOB_COMPLETION_INDEX=%d is not below the count %d", index, count), 0)
    end
    return { index + 1, count }, string.format("shard %d/%d (JOB_COMPLETION_INDEX=%d, %d shards)", index + 1, count,
                                               index, count)
  end
  core.raise("--shard auto: no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX in the environment", 0)
end

return M
