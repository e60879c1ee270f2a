-- bin/pixjit as users run it: flags, arg, stdin, errors and exit codes.
local H = require "spec.helper"

local function run(args, stdin)
  local cmd = H.pixjit .. " " .. args
  if stdin then cmd = cmd .. " < " .. H.write("stdin.lua", stdin) end
  return H.sh(cmd)
end

local script = H.write

describe("bin/pixjit", function()
  it("runs a script with arg and ... as luajit does", function()
    local p = script("args.lua", "print(arg[0], arg[1], arg[2], select('#', ...), ...)")
    local out, rc = run(p .. " one two")
    assert.are.equal(0, rc)
    assert.are.equal(p .. "\tone\ttwo\t2\tone\ttwo\n", out)
  end)

  it("preloads pj and finds its modules from any directory", function()
    local out, rc = H.sh("cd / && " .. (H.pixjit:sub(1, 1) == "/" and H.pixjit or os.getenv("PWD") .. "/" .. H.pixjit)
      .. " -e 'print(pj.version == require(\"pixjit\").version, pj.new(2, 2, 1).width)'")
    assert.are.equal(0, rc)
    assert.are.equal("true\t2\n", out)
  end)

  it("runs -e chunks and -l modules in order", function()
    local out, rc = run("-l string -e 'print(string.rep(\"a\", 3))' -e 'print(1 + 1)'")
    assert.are.equal(0, rc)
    assert.are.equal("aaa\n2\n", out)
  end)

  it("reads a script from stdin with -", function()
    local out, rc = run("- x", "print('stdin', arg[1])")
    assert.are.equal(0, rc)
    assert.are.equal("stdin\tx\n", out)
  end)

  it("prints file:line, message and traceback on an uncaught error", function()
    local p = script("boom.lua", "local function f()\n  error('boom')\nend\nf()\n")
    local out, rc = run(p)
    assert.are.equal(1, rc)
    assert.matches("pixjit: " .. p:gsub("%p", "%%%0") .. ":2: boom", out)
    assert.matches("stack traceback:", out)
    assert.matches("boom.lua:4: in main chunk", out)
  end)

  it("reports a pixjit error at the user's line", function()
    local p = script("badload.lua", "\n\npj.load('nope.png')\n")
    local out, rc = run(p)
    assert.are.equal(1, rc)
    assert.matches("badload.lua:3: pixjit.load: nope.png: No such file or directory", out)
  end)

  it("exits with os.exit's status", function()
    local _, rc = run("-e 'os.exit(3)'")
    assert.are.equal(3, rc)
  end)

  it("reports syntax errors and missing scripts", function()
    local p = script("syntax.lua", "x = = 1")
    local out, rc = run(p)
    assert.are.equal(1, rc)
    assert.matches("syntax.lua:1:", out)
    out, rc = run(H.tmp .. "/no_such_script.lua")
    assert.are.equal(1, rc)
    assert.matches("cannot open", out)
  end)

  it("shows version and help", function()
    local out, rc = run("-v")
    assert.are.equal(0, rc)
    assert.matches("^pixjit %d+%.%d+%.%d+ %(LuaJIT 2%.1", out)
    out, rc = run("--help")
    assert.are.equal(0, rc)
    assert.matches("usage: pixjit", out)
    out, rc = run("--bogus")
    assert.are.equal(1, rc)
    assert.matches("unknown option '%-%-bogus'", out)
  end)

  it("passes -j and -O to LuaJIT", function()
    local out, rc = run("-joff -e 'print(jit.status())'")
    assert.are.equal(0, rc)
    assert.are.equal("false", out:match("^(%a+)"))
    out, rc = run("-O3 -e 'print(jit.status())'")
    assert.are.equal(0, rc)
    assert.matches("^true.*%sfold%s", out)
    out, rc = run("-O3 -Ohotloop=7,-fold -e 'print(jit.status())'")
    assert.are.equal(0, rc)
    assert.matches("^true", out)
    assert.is_nil(out:find("%sfold%s"))
    _, rc = run("-jnosuchmodule -e 'print(1)'")
    assert.are.equal(1, rc)
  end)

  it("sets the thread count with --threads", function()
    local out, rc = run("--threads 3 -e 'print(pj.threads())'")
    assert.are.equal(0, rc)
    assert.are.equal("3\n", out)
  end)

  it("builds with plain make without installing anything", function()
    -- A dry run of a fresh build directory lists every command `make` would
    -- run; none of them may install packages.
    local out, rc = H.sh("make -n BUILD=" .. H.tmp .. "/dry-build all")
    assert.are.equal(0, rc, out)
    assert.matches("libpixjit.so", out)
    assert.is_nil(out:find("deps.sh", 1, true), out)
    assert.is_nil(out:find("apt-get", 1, true), out)
  end)

  it("lets plain luajit use the module through build/libpixjit.so", function()
    -- A sanitizer build lives elsewhere, and plain luajit cannot load it.
    if (os.getenv("BUILD") or "build") ~= "build" then
      pending("BUILD is " .. os.getenv("BUILD") .. "; plain luajit needs the plain build")
      return
    end
    local out, rc = H.sh("LUA_PATH='lua/?.lua;lua/?/init.lua;;' luajit -e " ..
      "'local pj = require \"pixjit\"; print(pj.new(3, 2, 1).height)'")
    assert.are.equal(0, rc, out)
    assert.are.equal("2\n", out)
  end)
end)
