-- pixjit.batch.inputs: the inputs of a job (globs, directories, list
-- files, stdin) and the share of them one shard takes.
local bit = require "bit"
local core = require "pixjit.core"
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

local function add_spec(list, spec)
  if spec == "-" then
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

-- Inputs from globs, directories, list files ("@file" or *.txt/*.list)
-- and "-" (paths on stdin); sorted, without duplicates.
function M.collect(specs)
  local list = {}
  for _, spec in ipairs(specs) do add_spec(list, spec) end
  table.sort(list)
  local out, seen = {}, {}
  for _, p in ipairs(list) do
    if not seen[p] then seen[p] = true; out[#out + 1] = p end
  end
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
    if M.shard_of(p, shard[2]) == shard[1] - 1 then mine[#mine + 1] = p end
  end
  return mine
end

return M
