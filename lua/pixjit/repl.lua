-- pixjit.repl: the interactive prompt.  On a terminal: line editing,
-- persistent history and tab completion through libedit, multi-line input
-- (an unfinished chunk, the `<eof>` syntax error, asks for more), values
-- printed without a leading `=`, images as a summary with a preview,
-- errors with a traceback, Ctrl-C stopping a running loop.  Without a
-- terminal it evaluates stdin line by line with no prompts.
local ffi = require "ffi"
local show = require "pixjit.show"
local sys = require "pixjit.sys"

local M = {}

ffi.cdef [[
char *readline(const char *prompt);
int add_history(const char *line);
int read_history(const char *path);
int write_history(const char *path);
void stifle_history(int max);
typedef char *pj_rl_entry(const char *text, int state);
typedef char **pj_rl_complete(const char *text, int start, int end);
char **rl_completion_matches(const char *text, pj_rl_entry *entry);
extern pj_rl_complete *rl_attempted_completion_function;
extern const char *rl_basic_word_break_characters;
extern const char *rl_readline_name;
extern int rl_completion_append_character;
void free(void *p);
char *strdup(const char *s);
]]

local C = ffi.C

-- The host's C side (src/host/main.c): docall and Ctrl-C at the prompt;
-- without it (plain luajit) the prompt reads plain lines.
local hostlib = package.loaded["pixjit.hostlib"]
local docall = require("pixjit.host").docall

function M.stdin_is_tty()
  return sys.isatty(0)
end

-- ---- Completion --------------------------------------------------------------

local KEYWORDS = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
                   "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
                   "true", "until", "while" }

-- Completions of `text` ("pj.lo", "img:cr", "str"): names from globals,
-- table fields, module functions and image or string methods.  Only
-- dotted names are followed; nothing is evaluated.
function M.complete(text)
  local prefix, sep, partial = text:match("^(.-)([.:])([%w_]*)$")
  local names = {}
  if not prefix then
    partial = text
    for k in pairs(_G) do if type(k) == "string" then names[#names + 1] = k end end
    for _, k in ipairs(KEYWORDS) do names[#names + 1] = k end
  else
    local obj = _G
    for part in prefix:gmatch("[^.]+") do
      if type(obj) ~= "table" and not (type(obj) == "cdata") then obj = nil; break end
      local ok, v = pcall(function() return obj[part] end)
      obj = ok and v or nil
      if obj == nil then break end
    end
    local pj = package.loaded.pixjit
    if type(obj) == "table" and sep == "." then
      for k in pairs(obj) do if type(k) == "string" then names[#names + 1] = k end end
    elseif type(obj) == "cdata" and pj and pj.is_image(obj) then
      for k in pairs(pj.image_methods) do if k:sub(1, 1) ~= "_" then names[#names + 1] = k end end
      if sep == "." then
        for _, f in ipairs { "width", "height", "channels", "stride", "data" } do names[#names + 1] = f end
      end
    elseif type(obj) == "string" and sep == ":" then
      for k in pairs(string) do names[#names + 1] = k end
    elseif type(obj) == "table" and sep == ":" then
      for k, v in pairs(obj) do if type(v) == "function" then names[#names + 1] = k end end
    end
    prefix = prefix .. sep
  end
  local out = {}
  for _, n in ipairs(names) do
    if n:sub(1, #partial) == partial and n:match("^[%a_][%w_]*$") then out[#out + 1] = (prefix or "") .. n end
  end
  table.sort(out)
  local dedup = {}
  for _, n in ipairs(out) do if dedup[#dedup] ~= n then dedup[#dedup + 1] = n end end
  return dedup
end

local keep = {} -- callbacks and strings libedit holds on to

local function setup_readline()
  local matches
  keep.entry = ffi.cast("pj_rl_entry *", function(text, state)
    if state == 0 then matches = M.complete(ffi.string(text)) end
    local m = matches[state + 1]
    return m and C.strdup(m) or nil
  end)
  keep.complete = ffi.cast("pj_rl_complete *", function(text)
    return C.rl_completion_matches(text, keep.entry)
  end)
  C.rl_attempted_completion_function = keep.complete
  -- '.' and ':' are part of a word, so "img:cr" completes as a whole.
  keep.breaks = ffi.new("char[?]", 40, " \t\n\"\\'`><=;+-*/%^~#{}()[],&|")
  C.rl_basic_word_break_characters = keep.breaks
  keep.name = ffi.new("char[?]", 7, "pixjit")
  C.rl_readline_name = keep.name
  C.rl_completion_append_character = 0
  local path = os.getenv("PIXJIT_HISTORY") or ((os.getenv("HOME") or ".") .. "/.pixjit_history")
  C.stifle_history(2000)
  C.read_history(path)
  return path
end

-- ---- Evaluation ----------------------------------------------------------------

-- Compiles a chunk, first as an expression so `1 + 1` prints 2.  The
-- expression is an argument of a packing call rather than returned
-- directly: `return f()` would be a tail call, and an error raised in f
-- would lose the line it came from.  Its environment falls through to _G.
local function pack_results(...) return ... end
local expr_env = setmetatable({ __pj_results = pack_results }, { __index = _G, __newindex = _G })

local function compile(src)
  local fn = loadstring("return __pj_results(" .. src .. "\n)", "=stdin")
  if fn then return setfenv(fn, expr_env) end
  return loadstring(src, "=stdin")
end

local function incomplete(err)
  return err and err:find("<eof>", 1, true) ~= nil
end

local function print_results(res, n)
  local pj = package.loaded.pixjit
  for i = 2, n do
    local v = res[i]
    if pj and pj.is_image(v) then
      show.show(v)
    else
      io.write(show.pretty(v), i < n and "\t" or "")
    end
  end
  if n > 1 and not (pj and pj.is_image(res[n])) then io.write("\n") end
end

-- Compiled traces never run hooks, so a loop typed at the prompt would be
-- deaf to Ctrl-C once LuaJIT compiles it.  The typed chunk itself runs in
-- the interpreter (jit.off without recursion); functions it defines, and
-- everything in modules and kernels, are still compiled, so pj.timeit of
-- a function defined at the prompt measures JIT speed.
local function evaluate(fn)
  jit.off(fn)
  local res = { docall(fn) }
  local n = table.maxn(res)
  if res[1] then
    print_results(res, n)
  else
    io.stderr:write(tostring(res[2]), "\n")
  end
  io.stdout:flush()
end

-- One line from the terminal through libedit, or nil at end of input;
-- false when Ctrl-C dropped the line.
local function read_tty(prompt)
  hostlib.prompt(true)
  local p = C.readline(prompt)
  hostlib.prompt(false)
  if hostlib.take_sigint() then
    if p ~= nil then C.free(p) end
    io.write("\n")
    return false
  end
  if p == nil then
    io.write("\n")
    return nil
  end
  local line = ffi.string(p)
  C.free(p)
  if line:match("%S") then C.add_history(line) end
  return line
end

function M.run()
  local tty = M.stdin_is_tty()
  local host = hostlib ~= nil
  local history
  if tty and host then
    history = setup_readline()
    io.write(string.format("pixjit %s (%s); pj is loaded. Ctrl-D to leave.\n",
                           package.loaded.pixjit.version, jit.version))
  end
  local buffer = nil
  while true do
    local line
    if tty and host then
      line = read_tty(buffer and ">> " or "pj> ")
      if line == nil then break end
      if line == false then
        buffer = nil
        goto continue
      end
    else
      if tty then io.write(buffer and ">> " or "pj> "); io.flush() end
      line = io.read("*l")
      if not line then break end
    end
    buffer = buffer and (buffer .. "\n" .. line) or line
    do
      local fn, err = compile(buffer)
      if not fn and incomplete(err) then goto continue end
      buffer = nil
      if not fn then
        io.stderr:write(err, "\n")
      else
        evaluate(fn)
      end
    end
    ::continue::
  end
  if history then C.write_history(history) end
  return 0
end

return M
