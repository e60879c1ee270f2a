-- pixjit.batch.progress: the progress bar (a terminal) or lines (a log)
-- on stderr while a batch runs, and the summary at its end.
local pj = require "pixjit"

local M = {}

local function fmt_eta(s)
  if s ~= s or s == math.huge then return "?" end
  if s >= 3600 then return string.format("%dh%02dm", s / 3600, s % 3600 / 60) end
  if s >= 60 then return string.format("%dm%02ds", s / 60, s % 60) end
  return string.format("%ds", s)
end

-- A tracker for `total` inputs; quiet prints nothing.
function M.new(total, tty, quiet)
  return { done = 0, total = total, failed = 0, t0 = pj.now(), last_line = pj.now(), tty = tty,
           quiet = quiet, step_ms = {}, step_n = {}, failures = {} }
end

-- Counts one input's records in (one per page); the input failed when
-- any of its pages did.
function M.add(state, recs)
  state.done = state.done + 1
  local failed = false
  for _, res in ipairs(recs) do
    if res.status ~= "ok" then
      failed = true
      state.failures[#state.failures + 1] = res.path .. (res.page and (" page " .. res.page) or "") .. ": "
        .. tostring(res.error)
    end
    for k, v in pairs(res.ms or {}) do
      state.step_ms[k] = (state.step_ms[k] or 0) + v
      state.step_n[k] = (state.step_n[k] or 0) + 1
    end
  end
  if failed then state.failed = state.failed + 1 end
end

function M.show(state, final)
  if state.quiet then return end
  local done, total = state.done, state.total
  local rate = done / math.max(pj.now() - state.t0, 1e-9)
  local eta = (total - done) / math.max(rate, 1e-9)
  if state.tty then
    local width = 30
    local fill = total > 0 and math.floor(width * done / total) or width
    io.stderr:write(string.format("\r[%s%s] %d/%d  %.1f/s  ETA %s  failed %d ",
                                  string.rep("#", fill), string.rep(".", width - fill), done, total,
                                  rate, fmt_eta(eta), state.failed))
    if final then io.stderr:write("\n") end
  elseif final or pj.now() - state.last_line >= 5 then
    state.last_line = pj.now()
    io.stderr:write(string.format("pixjit batch: %d/%d done, %.1f/s, %d failed\n", done, total, rate, state.failed))
  end
  io.stderr:flush()
end

-- The summary: counts, time, per-step time, the first failures.
function M.summary(state, n_inputs, skipped, report_path)
  if state.quiet then return end
  local dt = pj.now() - state.t0
  io.stderr:write(string.format("pixjit batch: %d inputs, %d ok, %d failed, %d skipped (done before) in %.2f s (%.1f/s)\n",
                                n_inputs, state.done - state.failed, state.failed, skipped, dt,
                                state.done / math.max(dt, 1e-9)))
  local names = {}
  for k in pairs(state.step_ms) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    io.stderr:write(string.format("  %-14s %8.2f ms per input\n", k, state.step_ms[k] / state.step_n[k]))
  end
  for i, f in ipairs(state.failures) do
    if i > 20 then io.stderr:write(string.format("  ... and %d more (see %s)\n", #state.failures - 20, report_path)); break end
    io.stderr:write("  failed: ", f, "\n")
  end
end

return M
