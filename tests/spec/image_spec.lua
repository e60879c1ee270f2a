local pj = require "pixjit"
local H = require "spec.helper"

describe("pj.new", function()
  it("makes a zero-filled image with a tight stride", function()
    local img = pj.new(5, 3, 3)
    assert.are.same({ 5, 3, 3, 15 }, { img.width, img.height, img.channels, img.stride })
    assert.are.same({ 0, 0, 0 }, { img:get(4, 2) })
  end)

  it("fills with one value or one per channel", function()
    assert.are.same({ 7, 7 }, { pj.new(2, 2, 2, 7):get(1, 1) })
    assert.are.same({ 1, 2, 3, 4 }, { pj.new(2, 2, 4, { 1, 2, 3, 4 }):get(0, 1) })
  end)

  it("fills every pixel of packed images and views, on any number of threads", function()
    -- Sizes past what one thread fills, and rows that do not divide 16 KiB.
    finally(function() pj.threads(0) end)
    for _, threads in ipairs { 1, 3 } do
      pj.threads(threads)
      for _, sz in ipairs { { 1, 1 }, { 7, 5 }, { 333, 61 }, { 1001, 517 } } do
        for c = 1, 4 do
          local value = {}
          for k = 1, c do value[k] = 40 * k + sz[1] % 7 end
          local base = pj.new(sz[1] + 2, sz[2] + 1, c, 9)
          for _, img in ipairs { pj.new(sz[1], sz[2], c), base:view(1, 1, sz[1], sz[2]) } do
            img:fill(c == 1 and value[1] or value)
            local p, bad = img:pixels(), 0
            for y = 0, sz[2] - 1 do
              for x = 0, sz[1] - 1 do
                for k = 0, c - 1 do
                  if p[y * img.stride + x * c + k] ~= value[k + 1] then bad = bad + 1 end
                end
              end
            end
            assert.are.equal(0, bad, string.format("%dx%dx%d on %d threads", sz[1], sz[2], c, threads))
          end
          -- The view's fill stays inside it.
          assert.are.equal(9, (base:get(0, 0)), "left of the view")
          assert.are.equal(9, base:pixels()[(base.width - 1) * c], "right of the view")
        end
      end
    end
  end)

  it("names the argument at fault", function()
    assert.has_error(function() pj.new(0, 1, 1) end, "pixjit.new: width must be >= 1, got 0")
    assert.has_error(function() pj.new(1, 1.5, 1) end, "pixjit.new: height must be an integer, got 1.5")
    assert.has_error(function() pj.new(1, 1, 5) end, "pixjit.new: channels must be 1 to 4, got 5")
    assert.has_error(function() pj.new(1, 1, nil) end, "pixjit.new: channels must be an integer, got nil")
    assert.has_error(function() pj.new(0/0, 1, 1) end, "pixjit.new: width must be an integer, got nan")
    assert.has_error(function() pj.new(2, 2, 3, { 1, 2 }) end, "pixjit.new: value must have 3 entries, got 2")
    assert.has_error(function() pj.new(2, 2, 1, "x") end, "pixjit.new: fill must be a number or a table, got \"x\"")
  end)

  it("refuses images over the pixel limit", function()
    local ok, err = pcall(pj.new, 20000, 20000, 1)
    assert.is_false(ok)
    assert.matches("pixel limit of 178956970", err)
  end)
end)

describe("img:get and img:set", function()
  it("round-trip values and check bounds", function()
    local img = pj.new(4, 3, 3)
    img:set(3, 2, 10, 20, 30)
    assert.are.same({ 10, 20, 30 }, { img:get(3, 2) })
    img:set(0, 0, 99)
    assert.are.same({ 99, 99, 99 }, { img:get(0, 0) })
    assert.has_error(function() img:get(4, 0) end, "img:get: x must be 0 to 3, got 4")
    assert.has_error(function() img:set(0, 0, 1, 2) end,
      "img:set: expected 3 values (or 1 for all) for a 3-channel image, got 2")
    assert.has_error(function() img:set(0, 0, 1, 2, 256) end, "img:set: value 3 must be 0 to 255, got 256")
  end)

  it("reads the same bytes as img:pixels()", function()
    local img = pj.new(3, 2, 2)
    img:set(2, 1, 5, 6)
    local p = img:pixels()
    assert.are.equal(5, p[1 * img.stride + 2 * 2])
    assert.are.equal(6, p[1 * img.stride + 2 * 2 + 1])
    p[0] = 200
    assert.are.equal(200, (img:get(0, 0)))
  end)
end)

describe("img:view", function()
  it("shares pixels with its parent", function()
    local img = pj.new(10, 10, 1)
    local v = img:view(2, 3, 4, 5)
    assert.are.same({ 4, 5, 10 }, { v.width, v.height, v.stride })
    v:set(1, 1, 77)
    assert.are.equal(77, (img:get(3, 4)))
    img:set(2, 3, 55)
    assert.are.equal(55, (v:get(0, 0)))
    assert.are.equal(2, img:refs())
  end)

  it("keeps the buffer alive after the parent is collected", function()
    local img = pj.new(100, 100, 3, { 1, 2, 3 })
    local v = img:view(50, 50, 10, 10)
    img = nil
    collectgarbage("collect")
    collectgarbage("collect")
    assert.are.same({ 1, 2, 3 }, { v:get(9, 9) })
    assert.are.equal(1, v:refs())
  end)

  it("rejects rectangles outside the image", function()
    local img = pj.new(10, 10, 1)
    assert.has_error(function() img:view(8, 0, 3, 1) end, "img:view: w must be 1 to 2, got 3")
    assert.has_error(function() img:view(-1, 0, 1, 1) end, "img:view: x must be 0 to 9, got -1")
    assert.has_error(function() img:view(0, 0, 1, 0/0) end, "img:view: h must be an integer, got nan")
  end)
end)

describe("img:clone", function()
  it("copies a view into independent tight memory", function()
    local img = pj.new(6, 6, 3, { 9, 8, 7 })
    local c = img:view(1, 1, 3, 3):clone()
    assert.are.same({ 3, 9, 1 }, { c.width, c.stride, c:refs() })
    c:set(0, 0, 0)
    assert.are.same({ 9, 8, 7 }, { img:get(1, 1) })
  end)
end)

describe("img:free", function()
  it("releases now, and later use is a clear error", function()
    local img = pj.new(1000, 1000, 4)
    local before = pj.memory()
    local v = img:view(0, 0, 2, 2)
    img:free()
    img:free()
    assert.has_error(function() img:get(0, 0) end, "img:get: self has been freed")
    assert.are.equal("pixjit.image (freed)", tostring(img))
    assert.are.equal(before, pj.memory()) -- the view still holds the buffer
    v:free()
    assert.are.equal(before - 4000000, pj.memory())
  end)
end)

describe("tostring", function()
  it("summarises size, channels, memory and sharing", function()
    local img = pj.new(640, 480, 3)
    assert.are.equal("pixjit.image 640x480 RGB (3 ch, stride 1920, 900.0 KiB)", tostring(img))
    local v = img:view(0, 0, 10, 10)
    assert.are.equal("pixjit.image 10x10 RGB (3 ch, stride 1920, 300 B, shared buffer)", tostring(v))
  end)
end)

describe("methods on wrong receivers", function()
  it("name the method and the type", function()
    local img = pj.new(1, 1, 1)
    assert.has_error(function() img.get(nil, 0, 0) end, "img:get: self must be an image, got nil")
    assert.has_error(function() img.clone({}) end, "img:clone: self must be an image, got table")
  end)
end)

describe("memory", function()
  it("releases each dropped handle once after a collection, freed by hand or not", function()
    collectgarbage("collect")
    local base = pj.memory()
    local keep = pj.new(64, 64, 3, 9)
    local v = keep:view(0, 0, 8, 8)
    keep:free()
    keep = nil
    for _ = 1, 5000 do
      local img = pj.new(40, 30, 3)
      if _ % 3 == 0 then img:free() end
    end
    collectgarbage("collect")
    -- Only v's buffer is left, and v still reads it.
    assert.are.equal(64 * 64 * 3, pj.memory() - base)
    assert.are.same({ 9, 9, 9 }, { v:get(7, 7) })
    assert.are.equal(1, v:refs())
    v = nil
    collectgarbage("collect")
    assert.are.equal(base, pj.memory())
  end)

  it("reuses the registry's slots: a long loop of small results does not grow the heap", function()
    local src = pj.new(100, 32, 3, 5)
    for _ = 1, 20000 do src:clone() end
    collectgarbage("collect")
    local kb = collectgarbage("count")
    for _ = 1, 200000 do src:clone() end
    collectgarbage("collect")
    local grew = collectgarbage("count") - kb
    assert.is_true(grew < 256, "the Lua heap grew by " .. grew .. " KiB")
  end)

  it("stays bounded when thousands of large images are dropped", function()
    collectgarbage("collect")
    local base = pj.memory()
    local peak = 0
    for i = 1, 2000 do
      local img = pj.new(1024, 1024, 4) -- 4 MiB each, never freed by hand
      img:set(i % 1024, 0, 1)
      peak = math.max(peak, pj.memory() - base)
    end
    -- 2000 x 4 MiB = 8 GiB allocated in total; live memory stays low.
    assert.is_true(peak < 400 * 2^20, "peak live pixel memory " .. peak)
  end)

  it("lets garbage grow at most 1/16 of a container's memory limit", function()
    local function step_max(root)
      local out, rc = H.sh("PIXJIT_CGROUP_ROOT=" .. root .. " " .. H.pixjit ..
                           " -e 'io.write(require(\"pixjit.core\").step_max)'")
      assert.are.equal(0, rc, out)
      return tonumber(out)
    end
    local fake = H.tmp .. "/cgroup-mem"
    os.execute("rm -rf " .. fake .. " && mkdir -p " .. fake)
    assert.are.equal(256 * 2^20, step_max(fake)) -- no limit: the cap
    -- cgroup v2: the root's memory.max binds every cgroup below it.
    H.write("cgroup-mem/memory.max", "1073741824\n")
    assert.are.equal(64 * 2^20, step_max(fake))
    -- The freed-buffer cache stays within the same cap.
    local out = H.sh("PIXJIT_CGROUP_ROOT=" .. fake .. " " .. H.pixjit .. " -e 'io.write(tonumber(pj.C.pj_cache_limit(-1)))'")
    assert.are.equal(64 * 2^20, tonumber(out))
    H.write("cgroup-mem/memory.max", "max\n")
    assert.are.equal(256 * 2^20, step_max(fake))
    -- cgroup v1: the memory hierarchy of this process's own cgroup.
    local own
    for line in io.lines("/proc/self/cgroup") do
      local ctrls, path = line:match("^%d+:([^:]*):(.*)$")
      if ctrls and ("," .. ctrls .. ","):find(",memory,", 1, true) then own = path end
    end
    if own then
      local dir = fake .. "/memory" .. (own == "/" and "" or own)
      os.execute("mkdir -p '" .. dir .. "'")
      local f = assert(io.open(dir .. "/memory.limit_in_bytes", "w"))
      f:write("536870912\n")
      f:close()
      assert.are.equal(32 * 2^20, step_max(fake))
    end
    -- Never below the 8 MB the collector starts with.
    H.write("cgroup-mem/memory.max", "1048576\n")
    assert.are.equal(8 * 2^20, step_max(fake))
  end)
end)

describe("pj.threads", function()
  it("sets and restores the thread count", function()
    local auto = pj.threads()
    assert.are.equal(3, pj.threads(3))
    assert.are.equal(auto, pj.threads(0))
    assert.has_error(function() pj.threads(-1) end, "pixjit.threads: n must be 0 to 4096, got -1")
  end)
end)
