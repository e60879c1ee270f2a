-- pixjit.batch.outputs: where a batch writes: templates filled from an
-- input's fields, and every file written under a temporary name then
-- renamed, so no partial file is ever visible under its final name.
local pj = require "pixjit"
local core = require "pixjit.core"
local sys = require "pixjit.sys"

local M = {}

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

local function ensure_parent(path)
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then pj.mkdir(dir) end
end

-- Writes with writer(tmp) then renames to path; records path in ctx.
function M.write_atomic(ctx, path, writer)
  ensure_parent(path)
  local tmp = sys.temp_name(path)
  local ok, err = pcall(writer, tmp)
  if not ok then
    sys.C.unlink(tmp)
    core.raise(err, 0)
  end
  sys.commit(tmp, path)
  ctx.outputs[#ctx.outputs + 1] = path
end

function M.write_text(ctx, path, text)
  M.write_atomic(ctx, path, function(tmp)
    local f = assert(io.open(tmp, "wb"))
    assert(f:write(text))
    assert(f:close())
  end)
end

-- Encodes and writes images to paths at once (pj.save_all: every file
-- written under a temporary name and renamed); records the paths in ctx.
-- The first failure fails the step, with the OS error number behind it.
function M.save_images(ctx, imgs, paths, opts)
  local made = {}
  for _, p in ipairs(paths) do
    local dir = p:match("^(.*)/[^/]+$")
    if dir and not made[dir] then made[dir] = true; pj.mkdir(dir) end
  end
  local _, errors = pj.save_all(imgs, paths, opts)
  for i, p in ipairs(paths) do
    if errors[i] then
      core.raise(errors[i], 0)
    end
    ctx.outputs[#ctx.outputs + 1] = p
  end
end

-- The output path of a step: its `name` template (or the default) under
-- the output directory, with `fields` (default: the input's).
function M.path(ctx, name, default, fields)
  return ctx.out .. "/" .. M.expand(name or default, fields or ctx.fields)
end

-- Removes the temporary files a killed batch left behind.
function M.sweep(out)
  local n = 0
  for _, p in ipairs(sys.glob(out .. "/**/.*.pjtmp*")) do sys.C.unlink(p); n = n + 1 end
  for _, p in ipairs(sys.glob(out .. "/.*.pjtmp*")) do sys.C.unlink(p); n = n + 1 end
  return n
end

return M
