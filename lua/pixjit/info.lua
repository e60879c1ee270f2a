-- pixjit.info: what `bin/pixjit --info` prints: versions, the CPUs the
-- process may use, the cgroup quota, and the thread count with what
-- decided it.
local ffi = require "ffi"
local pj = require "pixjit"

local C = pj.C
local M = {}

local SOURCES = {
  [C.PJ_THREADS_AFFINITY] = "affinity",
  [C.PJ_THREADS_CGROUP] = "cgroup",
  [C.PJ_THREADS_OMP_ENV] = "OMP_NUM_THREADS",
  [C.PJ_THREADS_PIXJIT_ENV] = "PIXJIT_THREADS",
  [C.PJ_THREADS_SET] = "--threads",
}

function M.get()
  local info = ffi.new("pj_cpu_info")
  C.pj_cpu_info_get(info)
  return {
    online = info.online, affinity = info.affinity, quota = info.quota,
    threads = info.threads, source = SOURCES[info.source] or "?",
  }
end

function M.print()
  local i = M.get()
  io.write("pixjit ", pj.version, "\n")
  io.write("LuaJIT ", jit.version:gsub("^LuaJIT ", ""), " (", jit.os, "/", jit.arch, ")\n")
  io.write("libpng ", ffi.string(C.pj_lib_version("libpng")), "\n")
  io.write("libjpeg-turbo ", ffi.string(C.pj_lib_version("libjpeg-turbo")), "\n")
  io.write("OpenMP ", ffi.string(C.pj_lib_version("openmp")), "\n")
  io.write(string.format("CPUs: %d online, %d in the affinity mask\n", i.online, i.affinity))
  if i.quota > 0 then
    io.write(string.format("CPU quota: %.2f CPUs (cgroup)\n", i.quota))
  else
    io.write("CPU quota: none\n")
  end
  io.write(string.format("threads: %d (%s)\n", i.threads, i.source))
end

return M
