-- bin/pixjit --batch: jobs, failures, crashes, sharding, resume after kill.
local pj = require "pixjit"
local cjson = require "cjson"
local H = require "spec.helper"
local sys = require "pixjit.sys"

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
    -- Paths as written, not with JSON's optional "\/".
    local raw = H.read(out .. "/report.jsonl")
    assert.is_nil(raw:find("\\/", 1, true))
    assert.truthy(raw:find('"' .. root .. "/in/img03.png" .. '"', 1, true))
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

  it("takes a zombie worker for gone, so its temporary files are swept", function()
    -- The shell execs into a sleep that never reaps the child it started:
    -- the child stays a zombie, as a killed worker does where nothing
    -- reaps orphans.
    local fh = io.popen("sh -c 'sleep 0 & echo $! $$; exec sleep 3 >/dev/null' &")
    local zombie, parent = fh:read("*n", "*n")
    fh:close()
    local state
    for _ = 1, 100 do -- until the child has exited
      local f = io.open("/proc/" .. zombie .. "/stat")
      state = f and f:read("*l"):match("^%d+ %b() (%a)")
      if f then f:close() end
      if state == "Z" then break end
      os.execute("sleep 0.02")
    end
    assert.are.equal("Z", state)
    assert.is_false(sys.alive(zombie))
    assert.is_true(sys.alive(parent))
    local out = root .. "/zombie"
    os.execute("mkdir -p " .. out)
    local stale = string.format("%s/.a.png.pjtmp-%s-%d-x.png", out, sys.host_tag(), zombie)
    local live = string.format("%s/.b.png.pjtmp-%s-%d-x.png", out, sys.host_tag(), parent)
    for _, p in ipairs { stale, live } do
      local f = assert(io.open(p, "wb"))
      f:write("x")
      f:close()
    end
    require("pixjit.batch.outputs").sweep(out)
    assert.is_false(sys.exists(stale))
    assert.is_true(sys.exists(live))
    os.execute("kill " .. parent .. " 2>/dev/null")
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
    assert.is_true(H.exists(root .. "/warm/img01.colors.json"))
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
    assert.is_true(H.exists(out .. "/sticker.palette.png"))
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

describe("--batch at scale", function()
  local dir = root .. "/scale_in"
  os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
  for i = 1, 60 do
    pj.new(200 + i, 150, 3, { i, 100, 200 }):save(string.format("%s/s%02d.png", dir, i), { compression = 1 })
  end

  -- Every line of every report in out, which must all parse.
  local function report_lines(out)
    local recs, files = {}, 0
    for path in H.sh("ls " .. out .. "/report*.jsonl"):gmatch("[^\n]+") do
      files = files + 1
      for line in io.lines(path) do
        local ok, rec = pcall(cjson.decode, line)
        assert.is_true(ok, path .. ": " .. line)
        recs[#recs + 1] = rec
      end
    end
    return recs, files
  end

  it("lets shards run at once into one folder, each with its own report", function()
    local out = root .. "/concurrent"
    os.execute("rm -rf " .. out)
    local job = H.write("batch/sizes.lua", "return { steps = { { 'load' }, { 'resize', w = 64, h = 48 }, "
      .. "{ 'save', name = '{stem}.small.png' } } }")
    local cmds = {}
    for k = 1, 3 do
      cmds[k] = string.format("%s --batch %s --input %s --output %s --shard %d/3 --threads 1 --quiet",
                              H.pixjit, job, dir, out, k)
    end
    local _, rc = H.sh("(" .. table.concat(cmds, " & ") .. " & wait) ")
    assert.are.equal(0, rc)
    local recs, files = report_lines(out)
    assert.are.equal(3, files)
    local seen = {}
    for _, r in ipairs(recs) do
      assert.are.equal("ok", r.status)
      assert.is_nil(seen[r.path], r.path .. " twice")
      seen[r.path] = true
    end
    assert.are.equal(60, #recs)
    -- --resume reads every report: nothing is left to do.
    local text, rc2 = run(job .. " --input " .. dir .. " --output " .. out .. " --resume")
    assert.are.equal(0, rc2, text)
    assert.matches("60 skipped", text)
  end)

  it("keeps every report line whole through kill -9, and --resume completes", function()
    local out = root .. "/killed"
    os.execute("rm -rf " .. out)
    local job = H.write("batch/slow2.lua", "return { steps = { { 'load' }, { 'resize', w = 900, h = 700 }, "
      .. "{ 'save', name = '{stem}.png', compression = 9 } } }")
    local cmd = string.format("%s --batch %s --input %s --output %s --quiet --resume", H.pixjit, job, dir, out)
    local rnd = H.rng(7)
    for _ = 1, 3 do
      os.execute(string.format("(%s & pid=$!; sleep %.3f; kill -9 $pid; wait $pid) >/dev/null 2>&1",
                               cmd, 0.05 + rnd(200) / 1000))
      -- Readers skip at most a cut last line; every other line parses.
      local f = io.open(out .. "/report.jsonl")
      if f then
        local lines = {}
        for line in f:lines() do lines[#lines + 1] = line end
        f:close()
        for i = 1, #lines - 1 do assert.is_true(pcall(cjson.decode, lines[i]), lines[i]) end
      end
    end
    local text, rc = H.sh(cmd)
    assert.are.equal(0, rc, text)
    local ok = {}
    for _, r in ipairs(report_lines(out)) do if r.status == "ok" then ok[r.path] = true end end
    for i = 1, 60 do assert.is_true(ok[string.format("%s/s%02d.png", dir, i)], "input " .. i) end
  end)

  it("stops with status 2 when the disk fills, and --resume finishes once there is room", function()
    local mnt = H.tmp .. "/tiny_fs"
    os.execute("umount " .. mnt .. " 2>/dev/null; rm -rf " .. mnt .. " && mkdir -p " .. mnt)
    local _, mrc = H.sh("mount -t tmpfs -o size=12m tmpfs " .. mnt)
    if mrc ~= 0 then return pending("cannot mount a tmpfs here") end
    local ok, err = pcall(function()
      -- Leave about 300 KB free: a few inputs fit, the rest do not.
      os.execute("dd if=/dev/zero of=" .. mnt .. "/filler bs=1k count=11900 2>/dev/null")
      local job = H.write("batch/fill.lua", "return { steps = { { 'load' }, { 'save', name = '{stem}.png', compression = 0 } } }")
      local out = mnt .. "/out"
      local text, rc = run(job .. " --input " .. dir .. " --output " .. out .. " --threads 1")
      assert.are.equal(2, rc, text)
      assert.matches("stopped: .*ENOSPC", text)
      local saved = 0
      for _, r in ipairs(report_lines(out)) do
        if r.status == "ok" then
          saved = saved + 1
          assert.are.same(200 + tonumber(r.path:match("s(%d+)%.png$")), pj.load(r.outputs[1]).width)
        end
      end
      assert.is_true(saved < 60)
      os.remove(mnt .. "/filler")
      text, rc = run(job .. " --input " .. dir .. " --output " .. out .. " --threads 1 --resume")
      assert.are.equal(0, rc, text)
      for i = 1, 60 do
        assert.are.equal(200 + i, pj.load(string.format("%s/s%02d.png", out, i)).width)
      end
    end)
    os.execute("umount " .. mnt)
    assert(ok, err)
  end)

  it("stops with status 2 when the output folder vanishes", function()
    local out = root .. "/vanish"
    os.execute("rm -rf " .. out)
    local job = H.write("batch/vanish.lua", "return { steps = { { 'load' }, function(ctx) "
      .. "if ctx.fields.stem == 's03' then os.execute('rm -rf " .. out .. "') end end, "
      .. "{ 'save', name = '{stem}.png' } } }")
    local text, rc = run(job .. " --input " .. dir .. " --output " .. out .. " --threads 1")
    assert.are.equal(2, rc, text)
    assert.matches("stopped: .*output folder .*vanish no longer exists", text)
  end)

  it("--shard auto takes the scheduler's index and selects what --shard K/N does", function()
    local function listing(env, shard)
      local out = H.sh(env .. " " .. H.pixjit .. " --batch examples/jobs/main_colors.lua --input " .. dir
        .. " --output " .. root .. "/auto --dry-run --shard " .. shard)
      return out
    end
    local explicit = listing("", "3/4"):gsub("pixjit batch:[^\n]*\n", "")
    local slurm = listing("SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=4", "auto")
    assert.matches("%-%-shard auto: shard 3/4 %(SLURM_ARRAY_TASK_ID=3", slurm)
    assert.are.equal(explicit, (slurm:gsub("pixjit batch:[^\n]*\n", "")))
    -- An array 0-30:10 is 4 tasks; task 20 is the third.
    local stepped = listing("SLURM_ARRAY_TASK_ID=20 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=30 SLURM_ARRAY_TASK_STEP=10", "auto")
    assert.are.equal(explicit, (stepped:gsub("pixjit batch:[^\n]*\n", "")))
    local k8s = listing("JOB_COMPLETION_INDEX=2", "auto/4")
    assert.matches("shard 3/4 %(JOB_COMPLETION_INDEX=2", k8s)
    assert.are.equal(explicit, (k8s:gsub("pixjit batch:[^\n]*\n", "")))
    assert.are.equal(explicit, (listing("JOB_COMPLETION_INDEX=2 PIXJIT_SHARDS=4", "auto"):gsub("pixjit batch:[^\n]*\n", "")))
    local text, rc = H.sh("env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX " .. H.pixjit
      .. " --batch examples/jobs/main_colors.lua --input " .. dir .. " --output x --shard auto")
    assert.are.equal(1, rc)
    assert.matches("no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX", text)
    text, rc = H.sh("JOB_COMPLETION_INDEX=1 " .. H.pixjit .. " --batch examples/jobs/main_colors.lua --input "
      .. dir .. " --output x --shard auto")
    assert.are.equal(1, rc)
    assert.matches("give the count as %-%-shard auto/N or PIXJIT_SHARDS", text)
  end)
end)

describe("--batch tar shards and manifests", function()
  local page = pj.new(160, 80, 3, { 240, 240, 240 })
  page:view(10, 10, 50, 20):fill({ 0, 0, 0 })
  page:view(80, 40, 60, 30):fill({ 20, 30, 200 })
  local dir = root .. "/tar_in"
  os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
  page:save(dir .. "/page.png")
  H.write("batch/tar_in/page.quads.json", "[[[10,10],[60,10],[60,30],[10,30]], [[80,40],[140,40],[140,70],[80,70]]]")

  it("writes the crops of an input as one WebDataset tar, member for member the loose files", function()
    local tjob = H.write("batch/tar.lua", "return { steps = { { 'load' }, { 'crop_quads' }, "
      .. "{ 'save_crops', archive = '{stem}.tar' } } }")
    local text, rc = run(tjob .. " --input " .. dir .. " --output " .. root .. "/tar_out --quiet")
    assert.are.equal(0, rc, text)
    text, rc = run("examples/jobs/crop_words.lua --input " .. dir .. " --output " .. root .. "/loose_out --quiet")
    assert.are.equal(0, rc, text)
    local out, prc = H.sh("/usr/bin/python3 -c \"import tarfile, json, sys\nt = tarfile.open('" .. root
      .. "/tar_out/page.tar')\nfor m in t.getmembers(): print(m.name, m.size)\n"
      .. "print(json.load(t.extractfile('page/0002.json'))['quad'])\n"
      .. "print(t.extractfile('page/0001.png').read() == open('" .. root .. "/loose_out/page/0001.png', 'rb').read())\"")
    if prc ~= 0 then return pending("python3 is not available: " .. out) end
    assert.matches("page/0001.png %d+\npage/0001.json %d+\npage/0002.png %d+\npage/0002.json %d+\n", out)
    assert.matches("%[%[80, 40%], %[140, 40%], %[140, 70%], %[80, 70%]%]", out)
    assert.matches("True", out)
    assert.are.equal("0\n", H.sh("ls -a " .. root .. "/tar_out | grep -c pjtmp"))
  end)

  it("takes a JSON Lines manifest: fields into templates, quads from the record, bad lines alone", function()
    local manifest = H.write("batch/manifest.jsonl", table.concat({
      '{"path": "' .. dir .. '/page.png", "id": "A7", "quads": [[[80,40],[140,40],[140,70],[80,70]]]}',
      '{"path": 5}',
      'not json at all',
      '',
      '{"path": "' .. dir .. '/missing.png", "id": "B1"}',
    }, "\n") .. "\n")
    local job = H.write("batch/manifest_job.lua", "return { steps = { { 'load' }, { 'crop_quads' }, "
      .. "{ 'save_crops', name = '{id}/{index}.png' } } }")
    local text, rc = run(job .. " --input " .. manifest .. " --output " .. root .. "/man_out --quiet")
    assert.are.equal(1, rc, text)
    local crop = pj.load(root .. "/man_out/A7/1.png")
    assert.are.same({ 60, 30, 20, 30, 200 }, { crop.width, crop.height, crop:get(5, 5) })
    local recs = read_report(root .. "/man_out")
    assert.are.equal("ok", recs[dir .. "/page.png"].status)
    assert.matches("line 2: expected an object with a \"path\" string", recs[manifest .. ":2"].error)
    assert.matches("line 3: invalid JSON", recs[manifest .. ":3"].error)
    assert.matches("missing.png", recs[dir .. "/missing.png"].error)
  end)
end)

describe("--batch outputs stay in --output", function()
  local base = root .. "/escape"
  local img = pj.new(6, 4, 3, { 9, 8, 7 })

  -- A fresh folder with the inputs named; returns its absolute path.
  local function setup(names)
    os.execute("rm -rf " .. base .. " && mkdir -p " .. base .. "/in " .. base .. "/outside " .. base .. "/out")
    for _, n in ipairs(names) do img:save(base .. "/in/" .. n) end
    return (H.sh("cd " .. base .. " && pwd"):gsub("%s+$", ""))
  end

  -- Every file below base/outside (nothing may be written there).
  local function outside_files() return (H.sh("find " .. base .. "/outside -mindepth 1")) end

  local function report_lines(out)
    local n = 0
    for line in io.lines(out .. "/report.jsonl") do n = n + 1; assert.is_table(cjson.decode(line)) end
    return n
  end

  it("fails a manifest record whose fields would leave the folder, and goes on", function()
    local abs = setup { "a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "g.png", "h.png" }
    local function rec(name, id) return cjson.encode({ path = abs .. "/in/" .. name, id = id }) end
    local manifest = H.write("batch/escape.jsonl", table.concat({
      rec("a.png", "../outside/dotdot"),
      rec("b.png", "../../../../../../../.." .. abs .. "/outside/deep"),
      rec("c.png", abs .. "/outside/absolute"),
      rec("d.png", "sub/ok"),
      rec("e.png", "nul\0byte"),
      rec("f.png", ".."),
      rec("g.png", "report"),
      rec("h.png", "."),
    }, "\n") .. "\n")
    local job = H.write("batch/escape_job.lua", "return { steps = { 'load', { 'save', name = '{id}/{stem}.png' }, "
      .. "'main_colors', { 'write_colors', name = '{id}.jsonl' } } }")
    local out = base .. "/out"
    local text, rc = run(job .. " --input " .. manifest .. " --output " .. out .. " --quiet")
    assert.are.equal(1, rc, text)
    assert.are.equal("", outside_files())
    local recs = read_report(out)
    local function err(name) return recs[abs .. "/in/" .. name].error or "ok" end
    assert.matches('^step save: name template "{id}/{stem}%.png" gives "%.%./outside/dotdot/a%.png" '
      .. '%(from {id} = "%.%./outside/dotdot"%): a "%.%." component, which leads out of the output folder$', err("a.png"))
    assert.matches('from {id} = "%.%./%.%./.*: a "%.%." component', err("b.png"))
    assert.matches("from {id} = .*: an absolute path, outside the output folder$", err("c.png"))
    assert.are.equal("ok", err("d.png"))
    assert.is_true(H.same_pixels(img, pj.load(out .. "/sub/ok/d.png")))
    assert.matches("a NUL byte in a file name", err("e.png"))
    assert.matches('gives "%.%./f%.png" %(from {id} = "%.%."%)', err("f.png"))
    -- "report/g.png" is fine; "report.jsonl" is the run's own report.
    assert.matches('^step write_colors: name template "{id}%.jsonl" gives "report%.jsonl": the run\'s report', err("g.png"))
    assert.is_true(sys.exists(out .. "/report/g.png"))
    -- "./h.png" is a file in the folder; "..jsonl" too.
    assert.are.equal("ok", err("h.png"))
    assert.are.equal(8, report_lines(out))
  end)

  it("never lets an input's file name take an output out of the folder", function()
    -- "...png" has the stem "..": "{stem}/{index:04}.png" would be "../0001.png".
    local abs = setup { "...png" }
    H.write("batch/escape/in/...quads.json", "[[[0,0],[4,0],[4,3],[0,3]]]")
    local text, rc = run("examples/jobs/crop_words.lua --input " .. abs .. "/in/...png --output " .. abs
      .. "/out --quiet")
    assert.are.equal(1, rc, text)
    assert.matches('gives "%.%./0001%.png" %(from {stem} = "%.%."%): a "%.%." component',
                   read_report(abs .. "/out")[abs .. "/in/...png"].error)
    assert.are.equal("", H.sh("find " .. abs .. " -name 0001.png"))
  end)

  it("does not follow a symbolic link planted in the output folder", function()
    local abs = setup { "a.png", "b.png", "c.png" }
    local out = abs .. "/out"
    os.execute("ln -s ../outside " .. out .. "/a && ln -s ../outside/target.png " .. out .. "/b.png"
      .. " && mkdir -p " .. out .. "/c && ln -s ../../outside " .. out .. "/c/deep")
    local job = H.write("batch/link_job.lua", "return { steps = { 'load', { 'save', name = '{name}' }, "
      .. "{ 'save', name = '{stem}/x.png' }, { 'save', name = 'c/deep/{stem}.png' } } }")
    local text, rc = run(job .. " --input " .. abs .. "/in --output " .. out .. " --quiet")
    assert.are.equal(1, rc, text)
    assert.are.equal("", outside_files())
    local recs = read_report(out)
    assert.matches(out .. "/a/x.png: " .. out .. "/a is a symbolic link; outputs do not follow links",
                   recs[abs .. "/in/a.png"].error, 1, true)
    assert.matches(out .. "/b.png is a symbolic link", recs[abs .. "/in/b.png"].error, 1, true)
    assert.matches(out .. "/c/deep is a symbolic link", recs[abs .. "/in/c.png"].error, 1, true)
    -- The links are left as they were.
    assert.are.equal("../outside\n", H.sh("readlink " .. out .. "/a"))
    -- A link planted under the (predictable) temporary name of a text
    -- output fails the write instead of being written through.
    local outputs = require "pixjit.batch.outputs"
    local target = out .. "/t.json"
    os.execute("ln -s ../outside/victim '" .. sys.temp_name(target) .. "'")
    local ok, err = pcall(outputs.write_text, { out = out, outputs = {}, job = {} }, target, "x")
    assert.is_false(ok)
    assert.matches("File exists", tostring(err))
    assert.are.equal("", outside_files())
    -- Images and tars (written by the C core) replace such a link with a
    -- file of their own.
    local pid = tonumber(H.sh("echo $PPID"):match("%d+"))
    local tag = sys.host_tag() .. "-" .. pid
    os.execute("ln -s ../outside/victim2 " .. out .. "/.t.tar.pjtmp-" .. tag .. "-tar")
    os.execute("ln -s ../outside/victim3 " .. out .. "/.t.png.pjtmp-" .. tag .. "-t0")
    pj.save_tar(out .. "/t.tar", { { name = "a.png", image = img } })
    pj.save_all({ img }, { out .. "/t.png" })
    assert.are.equal("", outside_files())
    assert.is_true(H.same_pixels(img, pj.load(out .. "/t.png")))
    assert.is_true(H.exists(out .. "/t.tar"))
  end)

  it("keeps archive members relative, whatever the job allows", function()
    local abs = setup { "a.png" }
    local job = H.write("batch/member_job.lua", "return { allow_outside_output = true, steps = { 'load', "
      .. "{ 'save', archive = 'a.tar', name = '../{stem}.png' } } }")
    local text, rc = run(job .. " --input " .. abs .. "/in --output " .. abs .. "/out --quiet")
    assert.are.equal(1, rc, text)
    assert.matches('member name template "%.%./{stem}%.png" gives "%.%./a%.png": a "%.%." component, '
      .. "which archive members never have", read_report(abs .. "/out")[abs .. "/in/a.png"].error)
    assert.is_false(sys.exists(abs .. "/out/a.tar"))
  end)

  it("lets the job's own template leave the folder only with allow_outside_output", function()
    local abs = setup { "a.png" }
    local name = "'../outside/{stem}.png'"
    local job = H.write("batch/out_job.lua", "return { steps = { 'load', { 'save', name = " .. name .. " } } }")
    local text, rc = run(job .. " --input " .. abs .. "/in --output " .. abs .. "/out --quiet")
    assert.are.equal(1, rc, text)
    assert.matches("%(a job may allow it: allow_outside_output = true%)", read_report(abs .. "/out")[abs .. "/in/a.png"].error)
    assert.are.equal("", outside_files())
    job = H.write("batch/out_job.lua", "return { allow_outside_output = true, steps = { 'load', "
      .. "{ 'save', name = " .. name .. " } } }")
    text, rc = run(job .. " --input " .. abs .. "/in --output " .. abs .. "/out --quiet")
    assert.are.equal(0, rc, text)
    assert.is_true(H.same_pixels(img, pj.load(abs .. "/outside/a.png")))
    -- Data still may not: the opt-in covers the job's text, not the fields.
    local manifest = H.write("batch/out.jsonl", cjson.encode({ path = abs .. "/in/a.png", id = "../../x" }) .. "\n")
    job = H.write("batch/out_job.lua", "return { allow_outside_output = true, steps = { 'load', "
      .. "{ 'save', name = '../outside/{id}.png' } } }")
    text, rc = run(job .. " --input " .. manifest .. " --output " .. abs .. "/out --quiet")
    assert.are.equal(1, rc, text)
    assert.matches('%(from {id} = "%.%./%.%./x"%)', read_report(abs .. "/out")[abs .. "/in/a.png"].error)
    -- Nor below an absolute path the job allowed.
    job = H.write("batch/out_job.lua", "return { allow_outside_output = true, steps = { 'load', "
      .. "{ 'save', name = '" .. abs .. "/outside/sub/{id}.png' } } }")
    text, rc = run(job .. " --input " .. manifest .. " --output " .. abs .. "/out --quiet")
    assert.are.equal(1, rc, text)
    assert.matches('%(from {id} = "%.%./%.%./x"%): a "%.%." component', read_report(abs .. "/out")[abs .. "/in/a.png"].error)
    assert.is_false(sys.exists(abs .. "/x.png"))
    job = H.write("batch/out_job.lua", "return { allow_outside_output = 'yes', steps = { 'load' } }")
    text, rc = run(job .. " --input " .. abs .. "/in --output " .. abs .. "/out --quiet")
    assert.are.equal(1, rc)
    assert.matches("allow_outside_output must be true or false", text)
  end)

  it("says \"no inputs\" and exits 1 when the inputs match nothing", function()
    local abs = setup {}
    local text, rc = run("examples/jobs/main_colors.lua --input '" .. abs .. "/in/*.png' --output " .. abs .. "/empty")
    assert.are.equal(1, rc, text)
    assert.is_truthy(text:find("no inputs: " .. abs .. "/in/*.png matched nothing", 1, true), text)
    assert.is_false(sys.exists(abs .. "/empty/report.jsonl"))
    text, rc = run("examples/jobs/main_colors.lua --input " .. abs .. "/in --output " .. abs .. "/empty --dry-run")
    assert.are.equal(1, rc, text)
    assert.matches("no inputs", text)
  end)
end)
