-- pixjit.repl: the interactive prompt.  An expression prints its value; an
-- unfinished chunk (a syntax error at <eof>) asks for more lines; errors
-- print with a traceback and the session goes on.
local ffi = require "ffi"

ffi.cdef [[ int isatty(int fd); ]]

local M = {}

function M.stdin_is_tty()
  return ffi.C.isatty(0) == 1
end

local function show(...)
  local n = select("#", ...)
  if n == 0 then return end
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  io.write(table.concat(parts, "\t"), "\n")
end

-- Compiles a chunk, first as an expression so `1 + 1` prints 2.
local function compile(src)
  local fn = loadstring("return " .. src, "=stdin")
  if fn then return fn end
  return loadstring(src, "=stdin")
end

local function incomplete(err)
  return err and err:find("<eof>", 1, true) ~= nil
end

function M.run()
  local tty = M.stdin_is_tty()
  local buffer = nil
  while true do
    if tty then
      io.write(buffer and ">> " or "> ")
      io.flush()
    end
    local line = io.read("*l")
    if not line then
      if tty then io.write("\n") end
      return 0
    end
    buffer = buffer and (buffer .. "\n" .. line) or line
    local fn, err = compile(buffer)
    if not fn and incomplete(err) then
      -- keep reading
    else
      buffer = nil
      if not fn then
        io.stderr:write(err, "\n")
      else
        local res = { xpcall(fn, function(e) return debug.traceback(tostring(e), 2) end) }
        if res[1] then
          show(unpack(res, 2, table.maxn(res)))
        else
          io.stderr:write(res[2], "\n")
        end
      end
    end
  end
end

return M
