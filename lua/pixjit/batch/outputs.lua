-- pixjit.batch.outputs: where a batch writes: templates filled from an
-- input's fields, and every file written under a temporary name then
-- renamed, so no partial file is ever visible under its final name.
local ffi = require "ffi"
local bit = require "bit"
local pj = require "pixjit"
local core = require "pixjit.core"
local sys = require "pixjit.sys"
local json = require "pixjit.json"

local M = {}

local function json_string(v) return json.encode(tostring(v)) end

-- The errno of the last output failure the machine is to blame for
-- (sys.ENV_ERRORS), for the runner to stop on; nil otherwise.
M.env_errno = nil

-- Raises msg, noting errno when it blames the environment.
local function fail_io(msg, errno)
  if errno and sys.ENV_ERRORS[errno] then M.env_errno = errno end
  core.raise(msg, 0)
end

-- The value of field k in a template, padded to width when a number.
local function field_value(template, fields, k, width)
  local v = fields[k]
  if v == nil then core.raise("unknown template field {" .. k .. "} in \"" .. template .. "\"", 0) end
  if width ~= "" and type(v) == "number" then return string.format("%0" .. tonumber(width) .. "d", v) end
  return tostring(v)
end

-- "{stem}.colors.json" with the input's fields; "{index:04}" pads numbers.
function M.expand(template, fields)
  return (template:gsub("{([%w_]+):?(%d*)}", function(k, width) return field_value(template, fields, k, width) end))
end

-- The template as pieces: {text} for its own text, {text, field} for a
-- field's value.
local function pieces(template, fields)
  local list, pos = {}, 1
  for s, k, width, e in template:gmatch("(){([%w_]+):?(%d*)}()") do
    if s > pos then list[#list + 1] = { template:sub(pos, s - 1) } end
    list[#list + 1] = { field_value(template, fields, k, width), k }
    pos = e
  end
  if pos <= #template then list[#list + 1] = { template:sub(pos) } end
  return list
end

-- The path components of the expanded pieces, each {text, field}: field
-- names the first field that put characters into that component.
local function components(list)
  local comps, cur, from = {}, {}, nil
  for _, piece in ipairs(list) do
    local text, field = piece[1], piece[2]
    local i = 1
    while true do
      local j = text:find("/", i, true)
      local part = text:sub(i, (j or #text + 1) - 1)
      if part ~= "" then cur[#cur + 1] = part; from = from or field end
      if not j then break end
      comps[#comps + 1] = { table.concat(cur), from }
      cur, from = {}, nil
      i = j + 1
    end
  end
  comps[#comps + 1] = { table.concat(cur), from }
  return comps
end

-- Names a run keeps at the top of the output folder for itself.
local function reserved(name)
  return name == "report.jsonl" or name:match("^report%.%d+%-of%-%d+%.jsonl$") ~= nil
end

-- The name a template gives below the output folder, checked: data (the
-- template's fields: file names, manifest records) can never take it out
-- of the folder, through "..", an absolute path or a NUL byte, nor onto
-- the run's reports.  The job's own text may use ".." or start with "/"
-- only when the job sets allow_outside_output (it is code its author
-- trusts).  what says which template ("name", "archive"), for messages;
-- member: the name is one inside a tar, which is always relative and
-- below its root (tar extractors follow "..").  Returns the name and
-- whether it leads outside the folder.
function M.checked_name(template, fields, allow, what, member)
  local list = pieces(template, fields)
  local name = {}
  for i, piece in ipairs(list) do name[i] = piece[1] end
  name = table.concat(name)
  local function fail(field, why)
    local src = field and string.format(" (from {%s} = %s)", field, json_string(fields[field])) or ""
    core.raise(string.format("%s template \"%s\" gives %s%s: %s", what, template, json_string(name), src, why), 0)
  end
  for _, piece in ipairs(list) do
    if piece[1]:find("\0", 1, true) then fail(piece[2], "a NUL byte in a file name") end
  end
  local absolute = name:sub(1, 1) == "/"
  if absolute then
    local first = list[1]
    for _, piece in ipairs(list) do
      if piece[1] ~= "" then first = piece; break end
    end
    if first[2] or not allow or member then
      fail(first[2], member and "an absolute path, which archive members never have" or
           "an absolute path, outside the output folder" ..
           (first[2] and "" or " (a job may allow it: allow_outside_output = true)"))
    end
  end
  -- Fields never add "..", even below an absolute path the job allowed.
  local stack, outside = {}, absolute
  for _, c in ipairs(components(list)) do
    if c[1] == ".." then
      if c[2] or not allow or member then
        fail(c[2], member and "a \"..\" component, which archive members never have" or
             "a \"..\" component, which leads out of the output folder" ..
             (c[2] and "" or " (a job may allow it: allow_outside_output = true)"))
      end
      if #stack == 0 then outside = true end
      stack[#stack] = nil
    elseif c[1] ~= "" and c[1] ~= "." then
      stack[#stack + 1] = c[1]
    end
  end
  if member then
    if #stack == 0 then fail(nil, "no file name for the archive member") end
  elseif not outside then
    if #stack == 0 then fail(nil, "the output folder itself, not a file in it") end
    if #stack == 1 and reserved(stack[1]) then fail(nil, "the run's report, which outputs may not replace") end
  end
  return name, outside
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

-- Fails when path, below the output folder, passes through a symbolic
-- link or is one: a link planted in the folder could point anywhere, so
-- outputs never follow one.  Checked before the parents are made (mkdir
-- would follow a link) and again after.  Folders in `checked` (a set,
-- optional) are known to be real ones already, and folders checked now
-- are added to it.
local function check_links(ctx, path, checked)
  if ctx.outside and ctx.outside[path] then return end
  local rel = path:sub(#ctx.out + 2)
  local p = ctx.out
  for comp in rel:gmatch("[^/]+") do
    p = p .. "/" .. comp
    if not (checked and checked[p]) then
      if sys.is_link(p) then
        core.raise(string.format("%s: %s is a symbolic link; outputs do not follow links inside the output folder",
                                 path, p), 0)
      end
      if not sys.exists(p) then return end
      if checked and p ~= path then checked[p] = true end
    end
  end
end

-- Makes dir (inside the output folder, which must still exist: a folder
-- that vanished mid-run is not silently made again).
local function mkdir_p(ctx, dir)
  if not sys.exists(ctx.out) then
    M.env_errno = 2
    core.raise("output folder " .. ctx.out .. " no longer exists", 0)
  end
  local ok, err = pcall(pj.mkdir, dir)
  if not ok then fail_io(tostring(err):gsub("^pixjit%.mkdir: ", ""), ffi.errno()) end
end

-- Makes path's folder and checks the path for links.
local function prepare(ctx, path)
  check_links(ctx, path)
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then mkdir_p(ctx, dir) end
  check_links(ctx, path)
end

-- Writes with writer(tmp) then renames to path; records path in ctx.
function M.write_atomic(ctx, path, writer)
  prepare(ctx, path)
  local tmp = sys.temp_name(path)
  -- Made here, exclusively: a link planted under the temporary's name
  -- (which is predictable) fails the write instead of being followed.
  local fd = sys.C.open(tmp, bit.bor(sys.O_WRONLY, sys.O_CREAT, sys.O_EXCL, sys.O_CLOEXEC), 438) -- 0666
  if fd < 0 then
    local errno = ffi.errno()
    fail_io(tmp .. ": " .. sys.errstr(), errno)
  end
  sys.C.close(fd)
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
  -- Each folder is made and checked once; each file's own name is checked.
  local made, checked = {}, {}
  for _, p in ipairs(paths) do
    local dir = p:match("^(.*)/[^/]+$") or ""
    if not made[dir] then made[dir] = true; prepare(ctx, p) end
    check_links(ctx, p, checked)
  end
  local _, errors = pj.save_all(imgs, paths, opts)
  for i, p in ipairs(paths) do
    if errors[i] then fail_io(errors[i], errors.errno[i]) end
    ctx.outputs[#ctx.outputs + 1] = p
  end
end

-- Writes members (pj.save_tar's) as one tar at path; records it in ctx.
function M.save_archive(ctx, path, members, opts)
  prepare(ctx, path)
  local ok, err = pcall(pj.save_tar, path, members, opts)
  if not ok then fail_io(tostring(err):gsub("^[^\n]-pixjit%.save_tar: ", ""), core.C.pj_errno()) end
  ctx.outputs[#ctx.outputs + 1] = path
end

-- The output path of a step: its `name` template (or the default) under
-- the output directory, with `fields` (default: the input's), checked by
-- M.checked_name; what names the template in messages ("name").
function M.path(ctx, name, default, fields, what)
  local rel, outside = M.checked_name(name or default, fields or ctx.fields, ctx.job.allow_outside_output == true,
                                      what or "name")
  local path = rel:sub(1, 1) == "/" and rel or (ctx.out .. "/" .. rel)
  if outside then
    ctx.outside = ctx.outside or {}
    ctx.outside[path] = true
  end
  return path
end

-- The name of a tar member from its template, checked.
function M.member(ctx, name, default, fields)
  return (M.checked_name(name or default, fields or ctx.fields, false, "member name", true))
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
