-- The FFI declarations must match include/pixjit.h: a drift would make
-- LuaJIT read structs at the wrong offsets or call with the wrong types.
local pj = require "pixjit"

-- The copy has no PJ_API markers (the visibility attribute is C's alone).
local function normalise(s)
  s = s:gsub("/%*.-%*/", " "):gsub("//[^\n]*", " "):gsub("PJ_API ", "")
  return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

local function header_section()
  local f = assert(io.open("include/pixjit.h"))
  local text = f:read("*a")
  f:close()
  local body = text:match("\n/%* PIXJIT_FFI_BEGIN %*/\n(.-)\n/%* PIXJIT_FFI_END %*/\n")
  return assert(body, "FFI markers missing from include/pixjit.h")
end

describe("FFI declarations", function()
  it("match the header's FFI section", function()
    local decls = require "pixjit.cdef"
    assert.are.equal(normalise(header_section()), normalise(decls))
  end)

  it("resolve every function the header declares", function()
    local n = 0
    for name in header_section():gmatch("(pj_[%w_]+)%s*%(") do
      local ok = pcall(function() return pj.C[name] end)
      assert.is_true(ok, "symbol " .. name .. " not exported")
      n = n + 1
    end
    assert.is_true(n >= 30)
  end)

  it("are exactly what the built libpixjit.so exports", function()
    local lib = (os.getenv("BUILD") or "build") .. "/libpixjit.so"
    local declared, exported = {}, {}
    for name in normalise(header_section()):gmatch("(pj_[%w_]+)%s*%(") do declared[#declared + 1] = name end
    local nm = io.popen("nm -D --defined-only " .. lib .. " 2>/dev/null")
    for line in nm:lines() do
      local kind, name = line:match("^%x+ (%a) ([%w_.@]+)$")
      -- Functions and data the library defines (not _init, _fini, ...).
      if kind and kind:match("[TDBR]") and not name:match("^_") then exported[#exported + 1] = name end
    end
    nm:close()
    table.sort(declared)
    table.sort(exported)
    assert.is_true(#exported > 0, "nm found no symbols in " .. lib)
    assert.are.same(declared, exported)
  end)

  it("use the same struct layout as the C compiler", function()
    local ffi = require "ffi"
    -- pj_image: pointer, four int32, pointer.
    assert.are.equal(8, ffi.offsetof("pj_image", "width"))
    assert.are.equal(20, ffi.offsetof("pj_image", "stride"))
    assert.are.equal(32, ffi.sizeof("pj_image"))
    assert.are.equal(16, ffi.sizeof("pj_color_count"))
  end)
end)
