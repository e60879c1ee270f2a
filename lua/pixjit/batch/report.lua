-- pixjit.batch.report: the report of a run, one JSON line per input (per
-- page of a multi-page one), and reading every report back for --resume.
-- Each run writes its own file, OUT/report.jsonl or, for shard K of N,
-- OUT/report.K-of-N.jsonl, so shards sharing a folder never touch each
-- other's lines.  A line goes out in one write() on an O_APPEND
-- descriptor: a reader sees whole lines, and a run killed mid-write
-- leaves at most a partial last line, which readers skip and a resumed
-- run ends with a newline before it appends.
local json = require "pixjit.json"
local sys = require "pixjit.sys"

local M = {}

function M.path(out, shard)
  if not shard then return out .. "/report.jsonl" end
  return string.format("%s/report.%d-of-%d.jsonl", out, shard[1], shard[2])
end

-- Every report of the folder (this run's and other shards').
function M.all(out)
  local list = {}
  for _, p in ipairs(sys.glob(out .. "/report*.jsonl")) do
    local name = p:match("([^/]+)$")
    if name == "report.jsonl" or name:match("^report%.%d+%-of%-%d+%.jsonl$") then list[#list + 1] = p end
  end
  return list
end

-- Inputs already completed, as told by every report in out: paths whose
-- last line (for each of their pages) says "ok" and whose outputs all
-- exist.  Lines that do not parse (a partial last line) are skipped.
function M.completed(out)
  local pages = {}
  for _, report_path in ipairs(M.all(out)) do
    local f = io.open(report_path, "r")
    if f then
      for line in f:lines() do
        local ok, rec = pcall(json.decode, line)
        if ok and type(rec) == "table" and type(rec.path) == "string" then
          local good = rec.status == "ok"
          if good then
            for _, o in ipairs(rec.outputs or {}) do
              if type(o) ~= "string" or not sys.exists(o) then good = false end
            end
          end
          local p = pages[rec.path] or { n = 1, good = {} }
          p.n = tonumber(rec.pages) or 1
          p.good[tonumber(rec.page) or 1] = good
          pages[rec.path] = p
        end
      end
      f:close()
    end
  end
  local done = {}
  for path, p in pairs(pages) do
    local all = true
    for i = 1, p.n do all = all and p.good[i] == true end
    done[path] = all or nil
  end
  return done
end

-- This run's report, opened to append (a fresh run empties its own file
-- first).  r.write(rec) returns true, or false and the errno.
function M.open(report_path, append)
  local flags = sys.O_WRONLY + sys.O_CREAT + sys.O_APPEND + (append and 0 or sys.O_TRUNC)
  local fd = sys.C.open(report_path, flags, 420) -- 0644
  if fd < 0 then
    require("pixjit.core").raise("--batch: " .. report_path .. ": " .. sys.errstr(), 0)
  end
  if append then
    -- A line cut short by a killed run gets its newline, so the next
    -- line stands alone.
    local f = io.open(report_path, "rb")
    local size = f and f:seek("end") or 0
    local last = size > 0 and f:seek("set", size - 1) and f:read(1)
    if f then f:close() end
    if last and last ~= "\n" then sys.write_all(fd, "\n") end
  end
  local r = {}
  function r.write(res)
    return sys.write_all(fd, json.encode({ path = res.path, page = res.page, pages = res.pages,
      status = res.status, error = res.error, ms = res.ms or {}, outputs = json.array(res.outputs) }) .. "\n")
  end
  function r.close() sys.C.close(fd) end
  return r
end

return M
