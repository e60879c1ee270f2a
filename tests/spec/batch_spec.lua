-- bin/pixjit --batch: jobs, failures, crashes, sharding, resume after kill.
local pj = require "pixjit"
local cjson = require "cjson"
local H = require "spec.helper"

local root = H.tmp .. "/batch"
os.execute("rm -rf " .. root .. " && mkdir -p " .. root .. "/in")

-- Inputs: 12 small images with known dominant colours, plus one corrupt.
for i = 1, 12 do
  local img = pj.new(40 + i, 30, 4, { 10 * i, 200, 0, 255 })
  img:view(0, 0, 5, 5):fill({ 255, 255, 255, 255 })
  img:view(5, 0, 5, 1):fill({ 0, 0, 0, 0 })
  img:save(string.format("%s/in/img%02d.png", root, i))
end
H.write("batch/in/broken.png", "\137PNG\r\n\26\n not really")

local function read_report(out)
  local recs = {}
  for line in io.lines(out .. "/report.jsonl") do
    local rec = cjson.decode(line)
    recs[rec.path] = rec
  end
  return recs
end

local function run(args)
  return H.sh(H.pixjit .. " --batch " .. args)
end

describe("--batch", function()
  it("runs the main-colours job: JSON colours and palettes per input", function()
    local out = root .. "/colors"
    local text, rc = run("examples/jobs/main_colors.lua --input " .. root .. "/in --output " .. out .. " --quiet")
    assert.are.equal(1, rc, text) -- broken.png fails, so the exit status is 1
    local recs = read_report(out)
    local n = 0
    for _ in pairs(recs) do n = n + 1 end
    assert.are.equal(13, n)
    assert.are.equal("error", recs[root .. "/in/broken.png"].status)
    assert.matches("pixjit.load: .*broken.png: invalid PNG", recs[root .. "/in/broken.png"].error)
    local f = assert(io.open(out .. "/img03.colors.json"))
    local colors = cjson.decode(f:read("*a"))
    f:close()
    -- 43x30 = 1290 px: 5 transparent, 25 white, 1260 of (30, 200, 0).
    assert.are.same({ r = 30, g = 200, b = 0, count = 1260 }, colors[1])
    assert.are.same({ r = 255, g = 255, b = 255, count = 25 }, colors[2])
    assert.are.equal(2, #colors)
    local pal = pj.load(out .. "/img03.palette.png")
    assert.are.same({ 512, 128 }, { pal.width, pal.height })
    assert.are.same({ 30, 200, 0 }, { pal:get(0, 0) })
    assert.is_true(recs[root .. "/in/img03.png"].ms.main_colors >= 0)
    assert.are.equal("", text) -- --quiet
  end)

  it("exits 0 when every input succeeds, and prints a summary", function()
    local out = root .. "/ok"
    local text, rc = run("examples/jobs/main_colors.lua --input '" .. root .. "/in/img*.png' --output " .. out)
    assert.are.equal(0, rc, text)
    assert.matches("12 inputs, 12 ok, 0 failed", text)
    assert.matches("main_colors%s+[%d.]+ ms per input", text)
  end)

  it("records a crashing FFI step and a Lua error, and finishes the rest", function()
    local job = H.write("batch/crash.lua", [[
local ffi = require "ffi"
return { output = "]] .. root .. [[/crash", steps = {
  { "load" },
  function(ctx)
    if ctx.fields.stem == "img02" then ffi.cast("int *", 0)[0] = 1 end
    if ctx.fields.stem == "img05" then error("no thanks") end
  end,
  { "main_colors", n = 2 }, { "write_colors" } } }
]])
    local text, rc = run(job .. " --input '" .. root .. "/in/img*.png' --threads 2 --quiet")
    assert.are.equal(1, rc, text)
    local recs = read_report(root .. "/crash")
    assert.are.equal("crashed", recs[root .. "/in/img02.png"].status)
    -- Killed by SIGSEGV; under AddressSanitizer its handler reports and
    -- exits with status 1 instead.
    local why = recs[root .. "/in/img02.png"].error
    assert.is_truthy(why:match("killed by signal 11") or why:match("exited with status 1"), why)
    assert.are.equal("error", recs[root .. "/in/img05.png"].status)
    assert.matches("no thanks", recs[root .. "/in/img05.png"].error)
    local ok = 0
    for _, r in pairs(recs) do if r.status == "ok" then ok = ok + 1 end end
    assert.are.equal(10, ok)
  end)

  it("reads inputs from stdin and list files, and lists them with --dry-run", function()
    local list = H.write("batch/list.txt", root .. "/in/img01.png\n# a comment\n" .. root .. "/in/img02.png\n")
    local text, rc = H.sh("printf '" .. root .. "/in/img07.png\\n' | " .. H.pixjit ..
                          " --batch examples/jobs/main_colors.lua --input - --input " .. list ..
                          " --output " .. root .. "/dry --dry-run")
    assert.are.equal(0, rc, text)
    assert.matches(root .. "/in/img01.png\n" .. root .. "/in/img02.png\n" .. root .. "/in/img07.png\n", text, 1, true)
  end)

  it("splits inputs into shards whose union is the whole, without overlap", function()
    local seen, total = {}, 0
    for k = 1, 3 do
      local out = H.sh(H.pixjit .. " --batch examples/jobs/main_colors.lua --input " .. root ..
                       "/in --output " .. root .. "/shard --dry-run --shard " .. k .. "/3")
      for p in out:gmatch("[^\n]+") do
        if p:match("^pixjit batch:") then goto continue end
        assert.is_nil(seen[p], p .. " in two shards")
        seen[p] = k
        total = total + 1
        ::continue::
      end
    end
    assert.are.equal(13, total)
    local _, rc = H.sh(H.pixjit .. " --batch examples/jobs/main_colors.lua --shard 4/3 --dry-run")
    assert.are.equal(1, rc)
  end)

  it("loses nothing when killed at random moments and resumed", function()
    -- 40 inputs with slow enough steps that kills land mid-batch.
    local dir = root .. "/many"
    os.execute("mkdir -p " .. dir)
    local src = pj.new(600, 400, 3, { 90, 10, 200 })
    for i = 1, 40 do src:save(string.format("%s/p%02d.png", dir, i), { compression = 1 }) end
    local job = H.write("batch/slow.lua", [[
return { output = "]] .. root .. [[/resumed", steps = {
  { "load" }, { "resize", w = 1200, h = 800 }, { "save", name = "{stem}.big.png", compression = 9 },
  { "main_colors", n = 3 }, { "write_colors" } } }
]])
    local cmd = H.pixjit .. " --batch " .. job .. " --input " .. dir .. " --quiet --resume"
    os.execute("rm -rf " .. root .. "/resumed")
    local rnd = H.rng(99)
    for round = 1, 4 do
      -- Start, wait a random 50-300 ms, SIGKILL the whole batch.
      os.execute(string.format("(%s & pid=$!; sleep %.3f; kill -9 $pid; wait $pid) >/dev/null 2>&1",
                               cmd, 0.05 + rnd(250) / 1000))
    end
    local text, rc = H.sh(cmd)
    assert.are.equal(0, rc, text)
    local recs = read_report(root .. "/resumed")
    for i = 1, 40 do
      local p = string.format("%s/p%02d.png", dir, i)
      assert.are.equal("ok", recs[p] and recs[p].status, p)
      local big = pj.load(string.format("%s/resumed/p%02d.big.png", root, i))
      assert.are.same({ 1200, 800 }, { big.width, big.height })
      local f = assert(io.open(string.format("%s/resumed/p%02d.colors.json", root, i)))
      assert.are.equal(90, cjson.decode(f:read("*a"))[1].r)
      f:close()
    end
    local leftovers = H.sh("ls -a " .. root .. "/resumed | grep pjtmp | wc -l")
    assert.are.equal("0\n", leftovers)
  end)

  it("does not hang when the job file runs a parallel kernel as it loads", function()
    -- The parent's OpenMP pool must not reach the workers: one input, so
    -- one worker with every kernel thread.
    local job = H.write("batch/kernel_at_load.lua", [[
local warm = pj.new(400, 400, 3):convert(1)
return { output = "]] .. root .. [[/warm", steps = { { "load" }, { "resize", w = 300, h = 300 },
  { "main_colors", n = 2 }, { "write_colors" } } }
]])
    local text, rc = H.sh("timeout 30 " .. H.pixjit .. " --batch " .. job .. " --input " .. root ..
                          "/in/img01.png --threads 2 --quiet")
    assert.are.equal(0, rc, text)
    assert.is_truthy(io.open(root .. "/warm/img01.colors.json"))
  end)

  it("accepts jobs in JSON", function()
    local job = H.write("batch/job.json", '{"output": "' .. root .. '/json", "steps": ["load", ' ..
      '{"step": "main_colors", "n": 1}, {"step": "write_colors", "name": "{stem}.top.json"}]}')
    local text, rc = run(job .. " --input " .. root .. "/in/img04.png --quiet")
    assert.are.equal(0, rc, text)
    local f = assert(io.open(root .. "/json/img04.top.json"))
    -- 44x30 pixels, less 25 white and 5 transparent.
    assert.are.same({ { r = 40, g = 200, b = 0, count = 1290 } }, cjson.decode(f:read("*a")))
    f:close()
  end)

  it("names bad jobs and bad flags", function()
    local text, rc = run(H.write("batch/bad.lua", "return { steps = { { 'sharpen' } }, output = 'x', inputs = 'y' }"))
    assert.are.equal(1, rc)
    assert.matches("step 1: unknown step sharpen %(built%-in: ", text)
    text, rc = run(H.write("batch/nosteps.json", '{"output": "x"}'))
    assert.are.equal(1, rc)
    assert.matches("needs a non%-empty 'steps' list", text)
    text, rc = H.sh(H.pixjit .. " --resume")
    assert.are.equal(1, rc)
    assert.matches("need %-%-batch JOB", text)
  end)

  it("runs the crop job over pages with sibling quads", function()
    local page = pj.new(120, 60, 3, { 250, 250, 250 })
    page:view(10, 10, 40, 20):fill({ 0, 0, 0 })
    page:save(root .. "/pages_page.png")
    os.execute("mkdir -p " .. root .. "/pages && mv " .. root .. "/pages_page.png " .. root .. "/pages/page.png")
    H.write("batch/pages/page.quads.json", "[[[10,10],[50,10],[50,30],[10,30]], [[60,5],[100,5],[100,25],[60,25]]]")
    local text, rc = run("examples/jobs/crop_words.lua --input " .. root .. "/pages --output " .. root .. "/crops --quiet")
    assert.are.equal(0, rc, text)
    local c1 = pj.load(root .. "/crops/page/0001.png")
    assert.are.same({ 40, 20 }, { c1.width, c1.height })
    assert.are.same({ 0, 0, 0 }, { c1:get(20, 10) })
    assert.are.same({ 250, 250, 250 }, { pj.load(root .. "/crops/page/0002.png"):get(5, 5) })
  end)
end)

describe("--batch over multi-page, TIFF and WebP inputs", function()
  it("gives one result per page, and never lets a page overwrite another", function()
    local dir = root .. "/pages_in"
    os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
    -- A 3-page TIFF made of three single-page ones (pixjit writes single
    -- pages; the pages are chained by hand: each IFD's next pointer).
    local pages = {}
    for i = 1, 3 do pages[i] = pj.new(20 + i, 10, 3, { 60 * i, 10, 200 }):encode("tif", { compression = 0 }) end
    local function u32(v) return string.char(v % 256, math.floor(v / 256) % 256, math.floor(v / 65536) % 256, math.floor(v / 16777216)) end
    local function le32(s, at) local a, b, c, d = s:byte(at, at + 3); return a + b * 256 + c * 65536 + d * 16777216 end
    local file, base = pages[1], 0
    local function last_ifd_next(s, start)
      local ifd = le32(s, start + 5) -- the first IFD's offset
      local n = s:byte(start + ifd + 1) + s:byte(start + ifd + 2) * 256
      return start + ifd + 2 + 12 * n + 1
    end
    for i = 2, 3 do
      local at = last_ifd_next(file, base)
      base = #file
      -- The next page's offsets move by where it now starts.
      local nxt = pages[i]
      local ifd = le32(nxt, 5)
      local n = nxt:byte(ifd + 1) + nxt:byte(ifd + 2) * 256
      local fixed = { nxt:sub(1, ifd + 2) }
      for e = 0, n - 1 do
        local ent = nxt:sub(ifd + 3 + 12 * e, ifd + 2 + 12 * (e + 1))
        local tag, typ, cnt = ent:byte(1) + ent:byte(2) * 256, ent:byte(3) + ent:byte(4) * 256, le32(ent, 5)
        local size = ({ 1, 1, 2, 4, 8 })[typ] or 1
        if tag == 273 or size * cnt > 4 then ent = ent:sub(1, 8) .. u32(le32(ent, 9) + base) end
        fixed[#fixed + 1] = ent
      end
      fixed[#fixed + 1] = nxt:sub(ifd + 3 + 12 * n)
      file = file:sub(1, at - 1) .. u32(base + ifd) .. file:sub(at + 4) .. table.concat(fixed)
    end
    local f = assert(io.open(dir .. "/scan.tif", "wb")); f:write(file); f:close()
    assert.are.equal(3, pj.info(dir .. "/scan.tif").pages)
    pj.new(16, 16, 4, { 1, 2, 3, 255 }):save(dir .. "/sticker.webp", { lossless = true })
    local out = root .. "/pages_out"
    local text, rc = run("examples/jobs/main_colors.lua --input " .. dir .. " --output " .. out .. " --quiet")
    assert.are.equal(0, rc, text)
    for i = 1, 3 do
      local fh = assert(io.open(out .. "/scan-p" .. i .. ".colors.json"))
      local colors = cjson.decode(fh:read("*a"))
      fh:close()
      assert.are.same({ r = 60 * i, g = 10, b = 200, count = (20 + i) * 10 }, colors[1])
    end
    assert.is_not_nil(io.open(out .. "/sticker.palette.png"))
    local lines = {}
    for line in io.lines(out .. "/report.jsonl") do lines[#lines + 1] = cjson.decode(line) end
    table.sort(lines, function(a, b) return a.path .. (a.page or 0) < b.path .. (b.page or 0) end)
    assert.are.equal(4, #lines)
    assert.are.same({ 1, 2, 3 }, { lines[1].page, lines[2].page, lines[3].page })
    assert.are.equal(3, lines[1].pages)
    -- --resume finds every page done.
    text, rc = run("examples/jobs/main_colors.lua --input " .. dir .. " --output " .. out .. " --resume")
    assert.are.equal(0, rc, text)
    assert.matches("2 skipped", text)
    -- A load step that names a page gives one result, that page.
    local job = H.write("batch/page2.lua", "return { steps = { { 'load', page = 2 }, { 'main_colors' }, "
      .. "{ 'write_colors', name = '{base}.p{page}.json' } } }")
    text, rc = run(job .. " --input " .. dir .. "/scan.tif --output " .. root .. "/page2 --quiet")
    assert.are.equal(0, rc, text)
    local fh = assert(io.open(root .. "/page2/scan.p1.json"))
    assert.are.equal(120, cjson.decode(fh:read("*a"))[1].r)
    fh:close()
  end)
end)
