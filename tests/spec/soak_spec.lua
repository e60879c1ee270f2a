-- Memory and descriptors stay flat under long loops; batches keep every
-- good input among hostile ones.
local ffi = require "ffi"
local pj = require "pixjit"
local H = require "spec.helper"

local function rss_kb()
  local f = io.open("/proc/self/status")
  local kb = tonumber(f:read("*a"):match("VmRSS:%s*(%d+)"))
  f:close()
  return kb
end

-- The descriptors this process has open (listed by a child into a file,
-- so no pipe of the listing's own is among them).
local function open_fds()
  local set, list = {}, H.tmp .. "/soak-fds.txt"
  os.execute("ls -l /proc/" .. tostring(ffi.C.getpid()) .. "/fd > " .. list)
  for l in io.lines(list) do
    local fd, target = l:match("(%d+) %-> (.*)$")
    if fd then set[fd] = target end
  end
  return set
end

-- The descriptors in `now` that `before` did not have: leaks.  (Handles
-- earlier specs left to the collector may close meanwhile; that is no
-- leak.)
local function new_fds(before, now)
  local list = {}
  for fd, target in pairs(now) do
    if before[fd] ~= target then list[#list + 1] = fd .. " -> " .. target end
  end
  table.sort(list)
  return table.concat(list, ", ")
end
ffi.cdef [[ int getpid(void); ]]

describe("long loops", function()
  it("load and drop 10,000 images with flat memory and no descriptor leak", function()
    local png = pj.new(200, 150, 4, { 1, 2, 3, 255 }):encode("png")
    local path = H.write("soak.png", png)
    local bad = H.write("soak_bad.png", png:sub(1, #png - 20))
    -- Warm up past a full cycle of the collector's memory threshold (192
    -- MiB of images), then RSS must stay put: growth would be a leak.
    for _ = 1, 3000 do pj.load(path) end
    collectgarbage()
    local fds0, rss0 = open_fds(), rss_kb()
    for i = 1, 7000 do
      local img = pj.load(path)
      if i % 10 == 0 then pcall(pj.load, bad) end             -- truncated file
      if i % 10 == 5 then pcall(pj.load, H.tmp .. "/absent") end -- missing file
      assert(img.width == 200)
    end
    collectgarbage()
    assert.are.equal("", new_fds(fds0, open_fds()))
    local grew = rss_kb() - rss0
    assert.is_true(grew < 64 * 1024, "RSS grew by " .. grew .. " KiB")
  end)

  it("crop 1,000,000 quads with flat memory", function()
    local img = pj.new(300, 200, 3, 77)
    local n = 10000
    local arr = ffi.new("float[?]", 8 * n)
    for i = 0, n - 1 do
      local x, y = i % 280, (i * 7) % 180
      local q = { x, y, x + 12, y + 1, x + 11, y + 9, x - 1, y + 8 }
      for k = 0, 7 do arr[8 * i + k] = q[k + 1] end
    end
    for _ = 1, 70 do img:crop_quads(arr, { count = n }) end -- past a collector cycle
    collectgarbage()
    local rss0 = rss_kb()
    for _ = 1, 100 do
      local crops = img:crop_quads(arr, { count = n })
      assert(crops[n].width == 12)
    end
    collectgarbage()
    local grew = rss_kb() - rss0
    assert.is_true(grew < 96 * 1024, "RSS grew by " .. grew .. " KiB")
  end)
end)

describe("batch over hostile files", function()
  it("completes every good input among the crasher files", function()
    if not H.data then return pending("../shared/data is absent") end
    local dir = H.tmp .. "/hostile"
    os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir .. " && cp " .. H.data .. "/crashers/* " .. dir .. "/")
    local good = {}
    for i = 1, 6 do
      local name = string.format("good%d.png", i)
      pj.new(20 + i, 10, 3, { 10 * i, 0, 0 }):save(dir .. "/" .. name)
      good[#good + 1] = dir .. "/" .. name
    end
    local out = H.tmp .. "/hostile_out"
    local text, rc = H.sh(H.pixjit .. " --batch examples/jobs/main_colors.lua --input " .. dir ..
                          " --output " .. out .. " --quiet")
    assert.are.equal(1, rc, text) -- most crashers are rejected
    local status = {}
    for line in io.lines(out .. "/report.jsonl") do
      local rec = require("cjson").decode(line)
      status[rec.path] = rec.status
    end
    local n = 0
    for _, s in pairs(status) do n = n + 1; assert.is_true(s == "ok" or s == "error", s) end
    assert.is_true(n >= 27 + 6)
    for _, p in ipairs(good) do
      assert.are.equal("ok", status[p], p)
      local stem = p:match("([^/]+)%.png$")
      assert.is_true(H.exists(out .. "/" .. stem .. ".colors.json"))
    end
  end)
end)
