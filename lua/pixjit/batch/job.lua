-- pixjit.batch.job: reading a job file (a Lua file returning a table, or
-- the same as JSON) and checking its steps.
local core = require "pixjit.core"
local json = require "pixjit.json"
local steps = require "pixjit.batch.steps"

local M = {}

local function fail(msg) core.raise("--batch: " .. msg, 0) end

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then fail(err) end
  local text = f:read("*a")
  f:close()
  if text:match("^%s*[{%[]") and not path:match("%.lua$") then
    local ok, j = pcall(json.decode, text)
    if not ok then fail(path .. ": invalid JSON: " .. tostring(j)) end
    return j
  end
  local fn, lerr = loadstring(text, "@" .. path)
  if not fn then fail(lerr) end
  return fn()
end

-- Each step as a table whose [1] names a built-in, or a function.
local function check_steps(path, list)
  for i, s in ipairs(list) do
    if type(s) == "string" then s = { s }; list[i] = s end
    -- JSON jobs name a step with "step": {"step": "main_colors", "n": 6}.
    if type(s) == "table" and s[1] == nil and s.step ~= nil then s[1] = s.step end
    if type(s) == "table" then
      if not steps.STEPS[s[1]] then
        local names = {}
        for k in pairs(steps.STEPS) do names[#names + 1] = k end
        table.sort(names)
        fail(string.format("%s: step %d: unknown step %s (built-in: %s)", path, i, tostring(s[1]),
                           table.concat(names, ", ")))
      end
    elseif type(s) ~= "function" then
      fail(string.format("%s: step %d must be a table, a name or a function", path, i))
    end
  end
end

-- The job at path, checked.
function M.load(path)
  local job = read(path)
  if type(job) ~= "table" then fail(path .. " must return a table") end
  if type(job.steps) ~= "table" or #job.steps == 0 then
    fail(path .. ": the job needs a non-empty 'steps' list")
  end
  check_steps(path, job.steps)
  if job.allow_outside_output ~= nil and type(job.allow_outside_output) ~= "boolean" then
    fail(path .. ": allow_outside_output must be true or false")
  end
  return job
end

return M
