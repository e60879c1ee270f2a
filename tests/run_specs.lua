-- Runs the busted specs inside bin/pixjit, so they exercise the real host
-- (its module path, exported symbols and preloaded `pj`).
-- usage: bin/pixjit tests/run_specs.lua [busted options] tests/spec
package.path = "tests/?.lua;" .. package.path
-- On failure busted ends Lua 5.1 hosts with error(nil); turn that into a
-- plain nonzero exit instead of an error report.
local ok, err = pcall(require "busted.runner", { standalone = false })
if not ok then
  if err ~= nil then io.stderr:write(tostring(err), "\n") end
  os.exit(1)
end
