-- `make install` into a temporary prefix, used as a C program, a plain
-- luajit and the installed host would use it, from outside the checkout:
-- every file and library they load must come from the prefix.  Then the
-- LuaRocks route into a local tree, and `make uninstall`.
local H = require "spec.helper"
local pj = require "pixjit"
local sys = require "pixjit.sys"

local build = os.getenv("BUILD") or "build"
local checkout = os.getenv("PWD")

-- One shell word.
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function have(tool) return select(2, H.sh("command -v " .. tool .. " >/dev/null")) == 0 end

-- Runs cmd in dir with nothing of the checkout in the environment.
local function clean_sh(dir, cmd)
  return H.sh("cd " .. q(dir) .. " && env -u PIXJIT_LIB -u PIXJIT_LUA_DIR -u LUA_PATH -u LUA_CPATH " ..
              "-u LD_LIBRARY_PATH " .. cmd)
end

-- The files a luajit script that requires pixjit has mapped or loaded:
-- prints the module directory and each mapped libpixjit.
local PROBE = [[
local pj = require "pixjit"
local sys = require "pixjit.sys"
local img = pj.new(4, 3, 3)
img:fill({ 10, 20, 30 })
assert(img:to_gray():get(1, 1) == 18)
print("dir " .. require("pixjit.core").dir)
for l in io.lines("/proc/self/maps") do
  local path = l:match("(/%S*libpixjit%S*)$")
  if path then print("lib " .. path) break end
end
print("version " .. pj.version)
]]

-- Lines "dir ..." and "lib ..." of out, each checked to be under root.
local function assert_from(out, root, what)
  local dir, lib = out:match("dir (%S+)"), out:match("lib (%S+)")
  assert.is_truthy(dir, what .. ": " .. out)
  assert.are.equal(root, dir:sub(1, #root), what .. ": modules from " .. dir)
  if lib then assert.are.equal(root, lib:sub(1, #root), what .. ": library from " .. lib) end
  assert.is_nil(out:find(checkout .. "/", 1, true), what .. " used the checkout: " .. out)
  return dir, lib
end

describe("make install", function()
  -- The sanitizer build cannot be loaded by a plain luajit or linked into
  -- a plain program, so the installed layout is checked on the plain one.
  if build ~= "build" then
    it("is checked on the plain build", function() pending("BUILD is " .. build) end)
    return
  end

  local root = H.sh("mktemp -d"):gsub("%s+$", "")
  local prefix = root .. "/prefix"
  local work = root .. "/work"
  os.execute("mkdir -p " .. q(work))
  teardown(function() os.execute("rm -rf " .. q(root)) end)

  it("lays out the host, both libraries, the header, pkg-config and the modules", function()
    local out, rc = H.sh("make -s install PREFIX=" .. q(prefix))
    assert.are.equal(0, rc, out)
    for _, f in ipairs { "bin/pixjit", "lib/libpixjit.so.0.1.0", "lib/libpixjit.a", "include/pixjit.h",
                         "lib/pkgconfig/pixjit.pc", "share/lua/5.1/pixjit/init.lua",
                         "share/lua/5.1/pixjit/core.lua", "share/lua/5.1/pixjit/batch/job.lua",
                         "share/lua/5.1/pixjit/libpath.lua" } do
      assert.is_true(sys.exists(prefix .. "/" .. f), f .. " not installed")
    end
    -- The soname links a program against libpixjit.so.0.
    assert.are.equal("libpixjit.so.0.1.0\n", H.sh("readlink " .. q(prefix .. "/lib/libpixjit.so.0")))
    assert.are.equal("libpixjit.so.0\n", H.sh("readlink " .. q(prefix .. "/lib/libpixjit.so")))
    if have("readelf") then
      assert.matches("SONAME%)%s+Library soname: %[libpixjit%.so%.0%]",
                     H.sh("readelf -d " .. q(prefix .. "/lib/libpixjit.so.0.1.0")))
    end
  end)

  it("gives pkg-config's flags, with which the C example builds and crops a page", function()
    local pc = "PKG_CONFIG_PATH=" .. q(prefix .. "/lib/pkgconfig") .. " pkg-config "
    local flags, rc = H.sh(pc .. "--cflags --libs pixjit")
    assert.are.equal(0, rc, flags)
    assert.matches("%-I" .. prefix:gsub("%p", "%%%0") .. "/include", flags)
    assert.matches("%-lpixjit", flags)
    flags = flags:gsub("%s+$", "")
    local src = checkout .. "/examples/c/crop_words.c"
    local out
    out, rc = clean_sh(work, "cc " .. q(src) .. " " .. flags .. " -Wl,-rpath," .. q(prefix .. "/lib") ..
                       " -o crop_words")
    assert.are.equal(0, rc, out)
    -- The same program linked against the static library.
    out, rc = clean_sh(work, "cc " .. q(src) .. " $(" .. pc .. "--cflags pixjit) " .. q(prefix .. "/lib/libpixjit.a") ..
                       " $(pkg-config --libs libpng libjpeg libdeflate libtiff-4 libwebp libwebpdemux libarchive)" ..
                       " -fopenmp -lm -o crop_words_static")
    assert.are.equal(0, rc, out)

    -- A page and three quads: two good, one degenerate.
    local page = H.random_image(300, 200, 3, H.rng(7))
    page:save(work .. "/page.png")
    local quads = { { 10, 10, 110, 20, 105, 60, 12, 50 }, { 150.5, 100, 290, 100, 290, 190, 150.5, 190 },
                    { 5, 5, 5, 5, 5, 5, 5, 5 } }
    local lines = {}
    for i, qd in ipairs(quads) do lines[i] = table.concat(qd, i == 2 and ", " or " ") end
    local qpath = work .. "/quads.txt"
    local f = assert(io.open(qpath, "w"))
    f:write(table.concat(lines, "\n"), "\n")
    f:close()
    local expect = page:crop_quads(quads)

    for _, exe in ipairs { "crop_words", "crop_words_static" } do
      local outdir = work .. "/" .. exe .. "-out"
      out, rc = clean_sh(work, "./" .. exe .. " page.png " .. q(qpath) .. " " .. q(outdir))
      assert.are.equal(1, rc, out) -- the degenerate quad fails
      assert.matches("2 crops from 3 quads %(1 failed%)", out)
      assert.matches("quad 3: ", out)
      for i = 1, 2 do
        local got = pj.load(string.format("%s/%04d.png", outdir, i))
        assert.is_true(H.same_pixels(expect[i], got), exe .. ": crop " .. i)
      end
      assert.is_false(sys.exists(outdir .. "/0003.png"))
    end
    out, rc = clean_sh(work, "./crop_words missing.png " .. q(qpath) .. " o")
    assert.are.equal(2, rc)
    assert.matches("missing.png: No such file", out)
  end)

  it("is found by plain luajit from the modules, without the checkout", function()
    local probe = work .. "/probe.lua"
    local f = assert(io.open(probe, "w"))
    f:write(PROBE)
    f:close()
    local lua_path = q(prefix .. "/share/lua/5.1/?.lua;" .. prefix .. "/share/lua/5.1/?/init.lua;;")
    local out, rc = clean_sh(work, "LUA_PATH=" .. lua_path .. " luajit probe.lua")
    assert.are.equal(0, rc, out)
    local _, lib = assert_from(out, prefix .. "/", "luajit")
    assert.are.equal(prefix .. "/lib/libpixjit.so.0.1.0", lib)
    assert.matches("version " .. pj.version:gsub("%p", "%%%0"), out)
  end)

  it("runs as the installed host, from the prefix's modules", function()
    local out, rc = clean_sh(work, q(prefix .. "/bin/pixjit") .. " --version")
    assert.are.equal(0, rc, out)
    assert.matches("^pixjit " .. pj.version:gsub("%p", "%%%0"), out)
    out, rc = clean_sh(work, q(prefix .. "/bin/pixjit") .. " probe.lua")
    assert.are.equal(0, rc, out)
    assert_from(out, prefix .. "/", "bin/pixjit")
  end)

  it("still works after the prefix is moved, by paths relative to the modules", function()
    local moved = root .. "/moved"
    assert.are.equal(0, select(2, H.sh("mv " .. q(prefix) .. " " .. q(moved))))
    local lua_path = q(moved .. "/share/lua/5.1/?.lua;" .. moved .. "/share/lua/5.1/?/init.lua;;")
    local out, rc = clean_sh(work, "LUA_PATH=" .. lua_path .. " luajit probe.lua")
    local _, rc2 = H.sh("mv " .. q(moved) .. " " .. q(prefix))
    assert.are.equal(0, rc2)
    assert.are.equal(0, rc, out)
    assert_from(out, moved .. "/", "moved prefix")
  end)

  it("is undone by make uninstall", function()
    local out, rc = H.sh("make -s uninstall PREFIX=" .. q(prefix))
    assert.are.equal(0, rc, out)
    assert.are.equal("", H.sh("find " .. q(prefix) .. " -type f -o -type l"))
  end)

  it("builds and installs as a rock with luarocks make", function()
    if not have("luarocks") then
      pending("luarocks is not installed")
      return
    end
    local tree = root .. "/rocks"
    -- LuaJIT's headers stand in for Lua 5.1's; lua-cjson comes from the
    -- system here, so dependencies are not fetched.
    local out, rc = H.sh("luarocks --lua-version 5.1 --tree " .. q(tree) ..
                         " make --deps-mode=none pixjit-" .. pj.version .. "-1.rockspec LUA_INCDIR=/usr/include/luajit-2.1")
    assert.are.equal(0, rc, out)
    assert.is_true(sys.exists(tree .. "/lib/lua/5.1/libpixjit.so"))
    local lua_path = q(tree .. "/share/lua/5.1/?.lua;" .. tree .. "/share/lua/5.1/?/init.lua;;")
    out, rc = clean_sh(work, "LUA_PATH=" .. lua_path .. " luajit probe.lua")
    assert.are.equal(0, rc, out)
    local _, lib = assert_from(out, tree .. "/", "rock")
    assert.are.equal(tree .. "/lib/lua/5.1/libpixjit.so", lib)
    out, rc = clean_sh(work, q(tree .. "/bin/pixjit") .. " probe.lua")
    assert.are.equal(0, rc, out)
    assert_from(out, tree .. "/", "rock's host")
  end)
end)
