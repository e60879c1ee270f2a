-- The REPL through a pipe and through a pseudo-terminal (util-linux's
-- `script`), and pj.show.
local pj = require "pixjit"
local H = require "spec.helper"

local function pipe(input)
  return H.sh("printf '" .. input .. "' | " .. H.pixjit .. " -i")
end

describe("the REPL on a pipe", function()
  it("evaluates line by line without prompts", function()
    local out, rc = pipe('1 + 1\\nx = 20\\nx * 2\\nfunction f(a)\\n  return a + 1\\nend\\nf(1), nil, \"s\"\\n')
    assert.are.equal(0, rc)
    assert.are.equal("2\n40\n2\tnil\t\"s\"\n", out)
  end)

  it("prints tables bounded and images as summaries", function()
    local out = pipe('t = {}\\nfor i = 1, 30 do t[i] = i end\\nt\\n{a = {b = {c = {d = 1}}}, [\"x y\"] = 1}\\npj.new(3, 2, 4)\\n')
    assert.matches("^{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, %.%.%. %(10 more%)}\n", out)
    assert.matches('\n{a = {b = {%.%.%.}}, %["x y"%] = 1}\n', out)
    assert.matches("\npixjit.image 3x2 RGBA %(4 ch, stride 12, 24 B%)\n$", out)
  end)

  it("reports errors with their line and a traceback, and goes on", function()
    local out, rc = pipe('error(\"boom\")\\nnosuch.field\\n\"still here\"\\n')
    assert.are.equal(0, rc)
    assert.matches("stdin:1: boom\nstack traceback:", out)
    assert.matches("attempt to index global 'nosuch'", out)
    assert.matches('"still here"', out)
  end)

  it("prints colour lists, keeps timeit's result to itself, and stops tracebacks at the user", function()
    local out = pipe('pj.new(4, 4, 3, {10, 20, 30}):main_colors(2)\\npj.timeit(function() end, {number = 10, [\"repeat\"] = 2})\\n' ..
                     'function f() pj.load(42) end\\nf()\\n')
    assert.matches("^1 colours of 1 distinct, 16 pixels counted\n1  #0a141e  16\n", out)
    assert.matches("\n[%d.]+ [nµm]?s ± [%d.]+ [nµm]?s per loop %(mean ± std%. dev%. of 2 runs, 10 loops each%)\nstdin:1: ", out)
    assert.matches("stdin:1: pixjit.load: path must be a string, got 42\nstack traceback:\n\tstdin:1: in function 'f'\n\tstdin:1: in main chunk\n$", out)
  end)

  it("runs stdin as a script without -i", function()
    local out = H.sh("printf 'print(1)\\n1 + 1\\n' | " .. H.pixjit)
    assert.matches("stdin:2: unexpected symbol", out) -- a script, not expressions
  end)
end)

describe("the REPL on a terminal", function()
  local has_script = H.sh("command -v script"):match("script") ~= nil

  -- Keystrokes are paced by sleeps (a terminal has no other handshake);
  -- the margins are generous so a loaded machine still keeps up.
  local function session(steps)
    local parts = { "sleep 1.5" }
    for _, s in ipairs(steps) do
      parts[#parts + 1] = "printf '" .. s[1] .. "'"
      parts[#parts + 1] = "sleep " .. 1.5 * (s[2] or 0.4)
    end
    parts[#parts + 1] = "printf '\\004'"
    local hist = H.tmp .. "/history"
    return H.sh("(" .. table.concat(parts, "; ") .. ") | PIXJIT_HISTORY=" .. hist ..
                " timeout 20 script -qfc '" .. H.pixjit .. "' /dev/null"), hist
  end

  it("edits, completes, keeps history and survives Ctrl-C", function()
    if not has_script then return pending("util-linux script is not installed") end
    os.remove(H.tmp .. "/history")
    local out, hist = session {
      { "img = pj.new(8, 4, 3, 200)\\n" },
      { "img:crop_q\\t" },                             -- completes to img:crop_quads
      { "({{0,0,4,0,4,2,0,2}})[1].width\\n" },
      { "while true do end\\n", 0.8 }, { "\\003", 0.6 },
      { "n = 0 while true do n = n + 1 end\\n", 0.8 }, { "\\003", 0.6 },
      { "n > 0\\n" },
    }
    assert.matches("pj> ", out)
    -- libedit redraws the completed word ("uads" after a cursor move); the
    -- result 4 shows the line became img:crop_quads(...)[1].width.
    assert.matches("img:crop_q.-uads%(", out)
    assert.matches("\n4\r?\n", out)
    local interrupts = select(2, out:gsub("interrupted", ""))
    assert.are.equal(2, interrupts)
    assert.matches("\ntrue\r?\n", out)
    local f = assert(io.open(hist))
    local saved = f:read("*a")
    f:close()
    assert.matches("n\\040>\\0400", saved)
  end)
end)

describe("pj.show", function()
  it("prints a summary and a half-block preview", function()
    local img = pj.new(4, 4, 3, { 255, 0, 0 })
    img:view(0, 2, 4, 2):fill({ 0, 0, 255 })
    local out = H.sh(H.pixjit .. " -e 'local i = pj.new(4, 4, 3, {255, 0, 0}) i:view(0, 2, 4, 2):fill({0, 0, 255}) pj.show(i, {preview = true})'")
    assert.matches("^pixjit.image 4x4 RGB", out)
    -- Two rows of 4 cells: red over red, then blue over blue.
    assert.matches("\27%[38;2;255;0;0m\27%[48;2;255;0;0m\226\150\128", out)
    assert.matches("\27%[38;2;0;0;255m\27%[48;2;0;0;255m\226\150\128", out)
    local plain = H.sh(H.pixjit .. " -e 'pj.show(pj.new(2, 2, 1))'")
    assert.are.equal("pixjit.image 2x2 gray (1 ch, stride 2, 4 B)\n", plain)
    assert.has_error(function() pj.show(5) end, "pixjit.show: img must be an image, got 5")
    assert.is_not_nil(img)
  end)
end)
