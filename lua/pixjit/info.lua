-- pixjit.info: what `bin/pixjit --info` prints.
local pj = require "pixjit"

local M = {}

function M.print()
  io.write("pixjit ", pj.version, "\n")
  io.write("LuaJIT: ", jit.version, " (", jit.os, "/", jit.arch, ")\n")
  io.write("threads: ", pj.threads(), "\n")
end

return M
