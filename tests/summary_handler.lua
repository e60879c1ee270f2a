-- busted output handler: busted's plain terminal output, then one line
-- "lua: N passed, N failed, N skipped" that tests/run.sh adds up.
return function(options)
  local busted = require "busted"
  local inner = require "busted.outputHandlers.plainTerminal"(options)
  local outer = setmetatable({}, { __index = inner })
  function outer:subscribe(opts)
    inner:subscribe(opts)
    busted.subscribe({ "suite", "end" }, function()
      io.write(string.format("lua: %d passed, %d failed, %d skipped\n", inner.successesCount,
                             inner.failuresCount + inner.errorsCount, inner.pendingsCount))
      io.flush()
      return nil, true
    end)
  end
  return outer
end
