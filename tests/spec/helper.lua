-- Shared by the specs: paths to ../shared/data (nil when absent) and to a
-- scratch directory.
local M = {}

M.data = os.getenv("PIXJIT_DATA")
if M.data == "" then M.data = nil end

function M.data_path(name)
  return M.data and (M.data .. "/" .. name) or nil
end

M.tmp = os.getenv("PIXJIT_TMP") or "build/spec-tmp"
os.execute("mkdir -p " .. M.tmp)

M.pixjit = os.getenv("PIXJIT") or "bin/pixjit"

-- Writes text to a file in the scratch directory; returns its path.
function M.write(name, text)
  local path = M.tmp .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- Runs a shell command; returns its output and exit code.
function M.sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"::rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("::rc=(%d+)%s*$"))
  return out:gsub("::rc=%d+%s*$", ""), rc
end

-- Deterministic pseudo-random integers (xorshift), independent of math.random.
function M.rng(seed)
  local bit = require "bit"
  local s = seed or 88172645
  return function(n)
    s = bit.bxor(s, bit.lshift(s, 13))
    s = bit.bxor(s, bit.rshift(s, 17))
    s = bit.bxor(s, bit.lshift(s, 5))
    return (s % n + n) % n
  end
end

return M
