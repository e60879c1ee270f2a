-- pixjit.batch.steps: the built-in steps of a batch job, and running a
-- job's steps over one input.  Each step takes (ctx, step): ctx.image is
-- the current image, ctx.values a table steps share, ctx.fields the
-- input's template fields; step holds its options.
local pj = require "pixjit"
local core = require "pixjit.core"
local json = require "pixjit.json"
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

function STEPS.load(ctx, step)
  ctx.image = pj.load(ctx.fields.path, { channels = step.channels, max_pixels = step.max_pixels })
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

function STEPS.save(ctx, step)
  outputs.save_images(ctx, { image_of(ctx, step) }, { outputs.path(ctx, step.name, "{stem}.png") },
                      { quality = step.quality, compression = step.compression })
end

function STEPS.crop_quads(ctx, step)
  local qpath = outputs.expand(step.quads or "{dir}/{stem}.quads.json", ctx.fields)
  local crops, errors = image_of(ctx, step):crop_quads(pj.read_quads(qpath), {
    rotate = step.rotate, height = step.height, interpolation = step.interpolation })
  ctx.values.crops, ctx.values.crop_errors = crops, errors
end

function STEPS.save_crops(ctx, step)
  local imgs, paths = {}, {}
  for i, crop in ipairs(need(ctx.values.crops, "save_crops needs crop_quads first")) do
    if crop then
      local fields = setmetatable({ index = i }, { __index = ctx.fields })
      imgs[#imgs + 1] = crop
      paths[#paths + 1] = outputs.path(ctx, step.name, "{stem}/{index:04}.png", fields)
    end
  end
  outputs.save_images(ctx, imgs, paths, { quality = step.quality, compression = step.compression })
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
  outputs.write_text(ctx, outputs.path(ctx, step.widths, "{stem}.widths.json"),
                     json.encode(json.array(ctx.values.widths)) .. "\n")
end

-- A built-in step's errors name pixjit's function and the file; the
-- position inside the runner says nothing to the user.
local function step_error(e)
  return (tostring(e):gsub("^[^\n]-pixjit/batch/[%w_]+%.lua:%d+: ", ""))
end

-- Runs the job's steps on one input; returns its report record.
function M.run_input(job, out, path)
  local ctx = { job = job, out = out, fields = outputs.fields_of(path), values = {}, outputs = json.array() }
  local ms = {}
  local t_all = pj.now()
  for i, step in ipairs(job.steps) do
    local name = type(step) == "function" and ("lua" .. i) or step[1]
    local t0 = pj.now()
    local ok, err = xpcall(function()
      if type(step) == "function" then step(ctx) else STEPS[step[1]](ctx, step) end
    end, step_error)
    ms[name] = (ms[name] or 0) + (pj.now() - t0) * 1000
    if not ok then
      return { path = path, status = "error", error = "step " .. name .. ": " .. err, ms = ms,
               outputs = ctx.outputs }
    end
  end
  ms.total = (pj.now() - t_all) * 1000
  return { path = path, status = "ok", ms = ms, outputs = ctx.outputs }
end

return M
