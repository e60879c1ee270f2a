-- pixjit.batch.steps: the built-in steps of a batch job, and running a
-- job's steps over one input.  Each step takes (ctx, step): ctx.image is
-- the current image, ctx.values a table steps share, ctx.fields the
-- input's template fields; step holds its options.
local pj = require "pixjit"
local core = require "pixjit.core"
local json = require "pixjit.json"
local sys = require "pixjit.sys"
local outputs = require "pixjit.batch.outputs"

local M = {}

local function need(v, why)
  if v == nil then core.raise(why, 0) end
  return v
end

local function image_of(ctx, step)
  local img = step.image and ctx.values[step.image] or ctx.image
  if not pj.is_image(img) then core.raise("step '" .. step[1] .. "' has no image (run 'load' first)", 0) end
  return img
end

local STEPS = {}
M.STEPS = STEPS

-- load: the input (its page ctx.page for a multi-page one, unless the
-- step names a page), with the step's channels, shrink, orient, page,
-- max_pixels.
function STEPS.load(ctx, step)
  ctx.image = pj.load(ctx.fields.path, { channels = step.channels, max_pixels = step.max_pixels,
    shrink = step.shrink, orient = step.orient, page = step.page or (ctx.pages > 1 and ctx.page or nil) })
end

function STEPS.main_colors(ctx, step)
  ctx.values.colors = image_of(ctx, step):main_colors(step.n or ctx.job.n or 6,
    { min_alpha = step.min_alpha, bits = step.bits })
end

function STEPS.write_colors(ctx, step)
  local items = json.array()
  for i, c in ipairs(need(ctx.values.colors, "write_colors needs main_colors first")) do
    items[i] = { r = c.r, g = c.g, b = c.b, count = c.count }
  end
  outputs.write_text(ctx, outputs.path(ctx, step.name, "{stem}.colors.json"), json.encode(items) .. "\n")
end

function STEPS.palette(ctx, step)
  local colors = need(ctx.values.colors, "palette needs main_colors first")
  if #colors > 0 then ctx.values.palette = pj.palette(colors, { height = step.height, width = step.width }) end
end

local function save_opts(step)
  return { quality = step.quality, compression = step.compression, lossless = step.lossless }
end

-- save: the image to `name` ("{stem}.png"); with `archive` (a template,
-- e.g. "{stem}.tar") as that member of one tar instead.
function STEPS.save(ctx, step)
  local img = image_of(ctx, step)
  if step.archive then
    outputs.save_archive(ctx, outputs.path(ctx, step.archive, nil, nil, "archive"),
                         { { name = outputs.member(ctx, step.name, "{stem}.png"), image = img } },
                         save_opts(step))
  else
    outputs.save_images(ctx, { img }, { outputs.path(ctx, step.name, "{stem}.png") }, save_opts(step))
  end
end

-- crop_quads: quads from step.quads (a template; default
-- "{dir}/{stem}.quads.json") in any format pj.read_quads reads
-- (step.format forces one; a PaddleOCR label file gives this input's line).
function STEPS.crop_quads(ctx, step)
  local quads, texts
  if ctx.record and ctx.record.quads ~= nil and step.quads == nil then
    -- A manifest record's own quads (and its texts, if any).
    quads, texts = ctx.record.quads, type(ctx.record.texts) == "table" and ctx.record.texts or {}
    if type(quads) ~= "table" then core.raise("the record's \"quads\" must be an array of quads", 0) end
  else
    local qpath = outputs.expand(step.quads or "{dir}/{stem}.quads.json", ctx.fields)
    quads, texts = pj.read_quads(qpath, { format = step.format, image = step.format == "paddle"
      and ctx.fields.path or nil })
  end
  ctx.values.quads = quads
  local crops, errors = image_of(ctx, step):crop_quads(quads, {
    rotate = step.rotate, height = step.height, interpolation = step.interpolation })
  ctx.values.crops, ctx.values.crop_errors, ctx.values.crop_texts = crops, errors, texts
end

-- A crop's JSON member: its index, quad and text.
local function crop_meta(ctx, i)
  local q = ctx.values.quads and ctx.values.quads[i]
  local texts = ctx.values.crop_texts or {}
  return json.encode({ index = i, quad = q, text = texts[i], source = ctx.fields.path,
                       page = ctx.pages > 1 and ctx.page or nil })
end

-- save_crops: each crop to `name` ("{stem}/{index:04}.png"); with
-- `archive` ("{stem}.tar", say) all of them in one tar per input, in
-- WebDataset's layout (members by `name`, the key being the name without
-- its extension), each with a KEY.json member (index, quad, text) unless
-- `meta = false`.
function STEPS.save_crops(ctx, step)
  local imgs, paths, members = {}, {}, {}
  for i, crop in ipairs(need(ctx.values.crops, "save_crops needs crop_quads first")) do
    if crop then
      local fields = setmetatable({ index = i }, { __index = ctx.fields })
      if step.archive then
        local name = outputs.member(ctx, step.name, "{stem}/{index:04}.png", fields)
        members[#members + 1] = { name = name, image = crop }
        if step.meta ~= false then
          members[#members + 1] = { name = (name:gsub("%.[^./]*$", "")) .. ".json", data = crop_meta(ctx, i) }
        end
      else
        imgs[#imgs + 1] = crop
        paths[#paths + 1] = outputs.path(ctx, step.name, "{stem}/{index:04}.png", fields)
      end
    end
  end
  if step.archive then
    outputs.save_archive(ctx, outputs.path(ctx, step.archive, nil, nil, "archive"), members, save_opts(step))
  else
    outputs.save_images(ctx, imgs, paths, save_opts(step))
  end
end

function STEPS.resize(ctx, step)
  ctx.image = image_of(ctx, step):resize(step.w, step.h, { interpolation = step.interpolation })
end

function STEPS.to_gray(ctx, step) ctx.image = image_of(ctx, step):to_gray() end

-- The image kernels as steps, their options named as the methods' (a
-- threshold's level goes to ctx.values.threshold).
function STEPS.threshold(ctx, step)
  ctx.image, ctx.values.threshold = image_of(ctx, step):threshold(step.t, {
    type = step.type, maxval = step.maxval, otsu = step.otsu })
end

function STEPS.adaptive_threshold(ctx, step)
  ctx.image = image_of(ctx, step):adaptive_threshold {
    method = step.method, block = step.block, c = step.c, type = step.type, maxval = step.maxval }
end

function STEPS.blur(ctx, step) ctx.image = image_of(ctx, step):blur(step.kw, step.kh) end
function STEPS.gaussian_blur(ctx, step) ctx.image = image_of(ctx, step):gaussian_blur(step.k, step.sigma) end
function STEPS.dilate(ctx, step) ctx.image = image_of(ctx, step):dilate(step.kw, step.kh) end
function STEPS.erode(ctx, step) ctx.image = image_of(ctx, step):erode(step.kw, step.kh) end
function STEPS.rot90(ctx, step) ctx.image = image_of(ctx, step):rot90(step.k) end
function STEPS.flip(ctx, step) ctx.image = image_of(ctx, step):flip(step.how) end
function STEPS.invert(ctx, step) ctx.image = image_of(ctx, step):invert() end

function STEPS.pack(ctx, step)
  local imgs = ctx.values.crops and {} or { image_of(ctx, step) }
  for _, c in ipairs(ctx.values.crops or {}) do if c then imgs[#imgs + 1] = c end end
  ctx.values.tensor, ctx.values.widths = pj.pack(imgs, {
    height = step.height, max_width = step.max_width, channels = step.channels,
    mean = step.mean, std = step.std, pad_value = step.pad_value, interpolation = step.interpolation })
end

function STEPS.save_npy(ctx, step)
  local t = need(ctx.values.tensor, "save_npy needs pack first")
  outputs.write_atomic(ctx, outputs.path(ctx, step.name, "{stem}.npy"), function(tmp) t:save(tmp) end)
  outputs.write_text(ctx, outputs.path(ctx, step.widths, "{stem}.widths.json", nil, "widths"),
                     json.encode(json.array(ctx.values.widths)) .. "\n")
end

-- A built-in step's errors name pixjit's function and the file; the
-- position inside the runner says nothing to the user.
local function step_error(e)
  return (tostring(e):gsub("^[^\n]-pixjit/batch/[%w_]+%.lua:%d+: ", ""))
end

-- The template fields of an input and page: the path's, then a
-- manifest record's own scalar fields (all but path).
local function fields_for(path, record, page, pages)
  local fields = outputs.fields_of(path, page, pages)
  for k, v in pairs(record or {}) do
    if k ~= "path" and (type(v) == "string" or type(v) == "number") then fields[k] = v end
  end
  return fields
end

-- Runs the job's steps on one page of an input; returns its record.  A
-- failure the machine is to blame for (a full disk, a read-only or
-- failing file system) has status "env", which stops the run.
local function run_page(job, out, path, record, page, pages)
  local ctx = { job = job, out = out, fields = fields_for(path, record, page, pages), values = {},
                outputs = json.array(), page = page, pages = pages, record = record }
  local ms = {}
  local t_all = pj.now()
  local rec = { path = path, page = pages > 1 and page or nil, pages = pages > 1 and pages or nil,
                ms = ms, outputs = ctx.outputs }
  for i, step in ipairs(job.steps) do
    local name = type(step) == "function" and ("lua" .. i) or step[1]
    local t0 = pj.now()
    local ok, err = xpcall(function()
      if type(step) == "function" then step(ctx) else STEPS[step[1]](ctx, step) end
    end, step_error)
    ms[name] = (ms[name] or 0) + (pj.now() - t0) * 1000
    if not ok then
      local env = outputs.env_errno
      outputs.env_errno = nil
      rec.status, rec.error = env and "env" or "error", "step " .. name .. ": " .. err
      rec.errno = env
      return rec
    end
  end
  ms.total = (pj.now() - t_all) * 1000
  rec.status = "ok"
  return rec
end

-- The pages a job goes through for path: every page of a multi-page TIFF
-- when some load step takes the input's page, else 1.
local function pages_of(job, path)
  local ext = (path:match("%.(%w+)$") or ""):lower()
  if ext ~= "tif" and ext ~= "tiff" then return 1 end
  local paged = false
  for _, step in ipairs(job.steps) do
    if type(step) == "table" and step[1] == "load" and step.page == nil then paged = true end
  end
  if not paged then return 1 end
  local ok, info = pcall(pj.info, path)
  return ok and info.pages or 1 -- a broken file fails in its load step
end

-- Runs the job's steps on one input (a path, or a manifest record): a
-- list of records, one per page.
function M.run_input(job, out, input)
  local record = type(input) == "table" and input or nil
  local path = record and record.path or input
  if record and record.error then return { { path = path, status = "error", error = record.error, ms = {} } } end
  if not sys.exists(out) then
    return { { path = path, status = "env", error = "output folder " .. out .. " no longer exists", ms = {} } }
  end
  local pages = pages_of(job, path)
  local recs = {}
  for page = 1, pages do
    recs[page] = run_page(job, out, path, record, page, pages)
    if recs[page].status == "env" then break end
  end
  return recs
end

return M
