-- pixjit.batch.report: OUT/report.jsonl, one JSON line per input, and
-- reading it back for --resume.
local json = require "pixjit.json"

local M = {}

function M.path(out) return out .. "/report.jsonl" end

-- Inputs already completed: paths whose last report line (for each of
-- their pages) says "ok" and whose outputs all exist.  Unparsable lines
-- (a batch killed mid-write) are ignored.
function M.completed(report_path)
  local pages = {}
  local f = io.open(report_path, "r")
  if not f then return {} end
  for line in f:lines() do
    local ok, rec = pcall(json.decode, line)
    if ok and type(rec) == "table" and type(rec.path) == "string" then
      local good = rec.status == "ok"
      if good then
        for _, o in ipairs(rec.outputs or {}) do
          local fh = io.open(o, "rb")
          if fh then fh:close() else good = false end
        end
      end
      local p = pages[rec.path] or { n = 1, good = {} }
      p.n = tonumber(rec.pages) or 1
      p.good[tonumber(rec.page) or 1] = good
      pages[rec.path] = p
    end
  end
  f:close()
  local done = {}
  for path, p in pairs(pages) do
    local all = true
    for i = 1, p.n do all = all and p.good[i] == true end
    done[path] = all or nil
  end
  return done
end

-- A report open for writing (appending when resuming).
function M.open(report_path, append)
  local fh = assert(io.open(report_path, append and "a" or "w"))
  local r = {}
  -- One line for a result, flushed at once.
  function r.write(res)
    fh:write(json.encode({ path = res.path, page = res.page, pages = res.pages, status = res.status,
                           error = res.error, ms = res.ms or {}, outputs = json.array(res.outputs) }), "\n")
    fh:flush()
  end
  function r.close() fh:close() end
  return r
end

return M
