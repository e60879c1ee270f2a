-- pixjit.batch.outputs: where a batch writes: templates filled from an
-- input's fields, and every file written under a temporary name then
-- renamed, so no partial file is ever visible under its final name.
local pj = require "pixjit"
local core = require "pixjit.core"
local sys = require "pixjit.sys"

local M = {}

-- The errno of the last output failure the machine is to blame for
-- (sys.ENV_ERRORS), for the runner to stop on; nil otherwise.
M.env_errno = nil

-- Raises msg, noting errno when it blames the environment.
local function fail_io(msg, errno)
  if errno and sys.ENV_ERRORS[errno] then M.env_errno = errno end
  core.raise(msg, 0)
end

-- "{stem}.colors.json" with the input's fields; "{index:04}" pads numbers.
function M.expand(template, fields)
  return (template:gsub("{([%w_]+):?(%d*)}", function(k, width)
    local v = fields[k]
    if v == nil then core.raise("unknown template field {" .. k .. "} in \"" .. template .. "\"", 0) end
    if width ~= "" and type(v) == "number" then return string.format("%0" .. tonumber(width) .. "d", v) end
    return tostring(v)
  end))
end

-- The template fields of an input path, and of its page `page` of
-- `pages`: a multi-page input's {stem} carries "-pN", so templates written
-- for single images never let one page overwrite another ({base} is the
-- file's own stem, {page} the number).
function M.fields_of(path, page, pages)
  local dir, name = path:match("^(.*)/([^/]+)$")
  dir, name = dir or ".", name or path
  local stem, ext = name:match("^(.+)%.([^.]+)$")
  stem = stem or name
  page, pages = page or 1, pages or 1
  return { path = path, dir = dir, name = name, base = stem, ext = ext or "", page = page,
           stem = pages > 1 and (stem .. "-p" .. page) or stem }
end

-- Makes dir (inside the output folder, which must still exist: a folder
-- that vanished mid-run is not silently made again).
local function mkdir_p(ctx, dir)
  if not sys.exists(ctx.out) then
    M.env_errno = 2
    core.raise("output folder " .. ctx.out .. " no longer exists", 0)
  end
  local ok, err = pcall(pj.mkdir, dir)
  if not ok then fail_io(tostring(err):gsub("^pixjit%.mkdir: ", ""), require("ffi").errno()) end
end

local function ensure_parent(ctx, path)
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then mkdir_p(ctx, dir) end
end

-- Writes with writer(tmp) then renames to path; records path in ctx.
function M.write_atomic(ctx, path, writer)
  ensure_parent(ctx, path)
  local tmp = sys.temp_name(path)
  local ok, err = pcall(writer, tmp)
  if not ok then
    sys.C.unlink(tmp)
    core.raise(tostring(err):gsub("^[^\n]-pixjit/batch/[%w_]+%.lua:%d+: ", ""), 0)
  end
  sys.commit(tmp, path)
  ctx.outputs[#ctx.outputs + 1] = path
end

function M.write_text(ctx, path, text)
  M.write_atomic(ctx, path, function(tmp)
    local f, err, code = io.open(tmp, "wb")
    if not f then fail_io(err, code) end
    local ok, werr, wcode = f:write(text)
    local cok, cerr, ccode = f:close()
    if not ok then fail_io(tmp .. ": " .. tostring(werr), wcode) end
    if not cok then fail_io(tmp .. ": " .. tostring(cerr), ccode) end
  end)
end

-- Encodes and writes images to paths at once (pj.save_all: every file
-- written under a temporary name and renamed); records the paths in ctx.
-- The first failure fails the step, with the OS error number behind it.
function M.save_images(ctx, imgs, paths, opts)
  local made = {}
  for _, p in ipairs(paths) do
    local dir = p:match("^(.*)/[^/]+$")
    if dir and not made[dir] then made[dir] = true; mkdir_p(ctx, dir) end
  end
  local _, errors = pj.save_all(imgs, paths, opts)
  for i, p in ipairs(paths) do
    if errors[i] then fail_io(errors[i], errors.errno[i]) end
    ctx.outputs[#ctx.outputs + 1] = p
  end
end

-- Writes members (pj.save_tar's) as one tar at path; records it in ctx.
function M.save_archive(ctx, path, members, opts)
  ensure_parent(ctx, path)
  local ok, err = pcall(pj.save_tar, path, members, opts)
  if not ok then fail_io(tostring(err):gsub("^[^\n]-pixjit%.save_tar: ", ""), require("pixjit.core").C.pj_errno()) end
  ctx.outputs[#ctx.outputs + 1] = path
end

-- The output path of a step: its `name` template (or the default) under
-- the output directory, with `fields` (default: the input's).
function M.path(ctx, name, default, fields)
  return ctx.out .. "/" .. M.expand(name or default, fields or ctx.fields)
end

-- Removes the temporary files a killed batch left behind.
-- Only those of processes of this machine that are gone: shards running
-- at the same time, here or on other machines sharing the folder, keep
-- theirs.  Folders are searched 8 levels deep.
function M.sweep(out)
  local n, me = 0, sys.host_tag()
  local function walk(dir, depth)
    for _, p in ipairs(sys.glob(dir .. "/.*.pjtmp-*")) do
      local host, pid = p:match("%.pjtmp%-(.-)%-(%d+)%-[^/]*$")
      if host == me and not sys.alive(tonumber(pid)) then sys.C.unlink(p); n = n + 1 end
    end
    if depth < 8 then
      for _, p in ipairs(sys.glob(dir .. "/*/")) do walk(p:gsub("/$", ""), depth + 1) end
    end
  end
  walk(out, 0)
  return n
end

return M
