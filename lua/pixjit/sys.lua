-- pixjit.sys: the POSIX calls pixjit uses from Lua (processes, pipes,
-- poll, glob, rename, mkdir, isatty), declared once for the FFI.
local ffi = require "ffi"
local bit = require "bit"

ffi.cdef [[
typedef int pid_t;
pid_t fork(void);
pid_t getpid(void);
void _exit(int status);
int pipe(int fds[2]);
int pipe2(int fds[2], int flags);
int dup2(int from, int to);
int execv(const char *path, char *const argv[]);
long read(int fd, void *buf, size_t n);
long write(int fd, const void *buf, size_t n);
int close(int fd);
pid_t waitpid(pid_t pid, int *status, int options);
int kill(pid_t pid, int sig);
int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
typedef struct pj_pollfd { int fd; short events; short revents; } pj_pollfd;
int poll(pj_pollfd *fds, unsigned long n, int timeout);
typedef struct pj_glob {
  size_t gl_pathc; char **gl_pathv; size_t gl_offs; int gl_flags;
  void *f1, *f2, *f3, *f4, *f5;
} pj_glob;
int glob(const char *pattern, int flags, void *errfunc, pj_glob *g);
void globfree(pj_glob *g);
int rename(const char *from, const char *to);
int mkdir(const char *path, unsigned int mode);
int unlink(const char *path);
int isatty(int fd);
char *strerror(int errnum);
int open(const char *path, int flags, int mode);
int gethostname(char *name, size_t len);
int access(const char *path, int mode);
long readlink(const char *path, char *buf, size_t size);
]]

local C = ffi.C
local M = {}

M.GLOB_MARK, M.GLOB_BRACE, M.GLOB_TILDE = 2, 1024, 4096
M.O_CLOEXEC = 524288
M.O_WRONLY, M.O_CREAT, M.O_EXCL, M.O_TRUNC, M.O_APPEND = 1, 64, 128, 512, 1024

-- The OS errors that say the machine, not the input, is at fault: the
-- disk or quota is full, the file system read-only or failing.
M.ENV_ERRORS = { [5] = "EIO", [28] = "ENOSPC", [30] = "EROFS", [122] = "EDQUOT" }
-- (ENOENT stands for the output folder vanishing; only the runner's own
-- check of that folder reports it.)

-- Paths matching pattern, sorted; directories end in "/".
function M.glob(pattern)
  local g = ffi.new("pj_glob")
  local rc = C.glob(pattern, M.GLOB_MARK + M.GLOB_BRACE + M.GLOB_TILDE, nil, g)
  local out = {}
  if rc == 0 then
    for i = 0, tonumber(g.gl_pathc) - 1 do out[#out + 1] = ffi.string(g.gl_pathv[i]) end
  end
  C.globfree(g)
  return out
end

function M.errstr()
  return ffi.string(C.strerror(ffi.errno()))
end

function M.isatty(fd) return C.isatty(fd) == 1 end

-- Writes all of s to fd; false and the errno on error.
function M.write_all(fd, s)
  local p, n = ffi.cast("const char *", s), #s
  while n > 0 do
    local w = tonumber(C.write(fd, p, n))
    if w <= 0 then
      if w < 0 and ffi.errno() == 4 then goto again end -- EINTR
      return false, w < 0 and ffi.errno() or 28
    end
    p, n = p + w, n - w
    ::again::
  end
  return true
end

-- Whether path is a symbolic link (readlink fails on anything else).
local linkbuf = ffi.new("char[1]")
function M.is_link(path) return C.readlink(path, linkbuf, 1) >= 0 end

-- Whether path exists (directory or file).
function M.exists(path) return C.access(path, 0) == 0 end

-- A line reader over a file descriptor.
function M.reader(fd)
  local buf, chunk = "", ffi.new("char[65536]")
  local r = {}
  -- Reads what is available (blocking once); false at end of file.
  function r.fill()
    local n = tonumber(C.read(fd, chunk, 65536))
    if n < 0 and ffi.errno() == 4 then return true end
    if n <= 0 then return false end
    buf = buf .. ffi.string(chunk, n)
    return true
  end
  -- Next complete line, or nil if none is buffered.
  function r.line()
    local i = buf:find("\n", 1, true)
    if not i then return nil end
    local l = buf:sub(1, i - 1)
    buf = buf:sub(i + 1)
    return l
  end
  return r
end

-- Waits for pid without blocking (or blocking when block); returns
-- nil while it runs, else how it ended: "exit", code or "signal", number.
function M.reap(pid, block)
  local st = ffi.new("int[1]")
  local rc = C.waitpid(pid, st, block and 0 or 1)
  if rc == 0 or rc < 0 then return nil end
  local s = st[0]
  if bit.band(s, 0x7f) == 0 then return "exit", bit.band(bit.rshift(s, 8), 0xff) end
  return "signal", bit.band(s, 0x7f)
end

-- This machine's name as temporary names carry it (as the C core's
-- pj_temp_path writes it).
local host
function M.host_tag()
  if not host then
    local buf = ffi.new("char[256]")
    host = C.gethostname(buf, 255) == 0 and ffi.string(buf) or ""
    if host == "" then host = "host" end
    host = host:gsub("[^%w%-]", "_"):sub(1, 32)
  end
  return host
end

-- Writes data to path atomically: a hidden temporary beside it, then
-- rename, so a reader (or a resumed batch) never sees a partial file.
-- The name says which machine and process wrote it (see pj_temp_path).
function M.temp_name(path)
  local dir, base = path:match("^(.*/)([^/]+)$")
  dir, base = dir or "", base or path
  local ext = base:match("(%.[%w]+)$") or ""
  return string.format("%s.%s.pjtmp-%s-%d-lua%s", dir, base, M.host_tag(), C.getpid(), ext)
end

-- Whether process pid runs on this machine.
function M.alive(pid)
  if C.kill(pid, 0) ~= 0 and ffi.errno() == 3 then return false end -- ESRCH: no such process
  -- A zombie still answers kill: where nothing reaps orphans (a container
  -- whose first process does not), a killed worker stays one for good.
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return true end
  local stat = f:read("*l") or ""
  f:close()
  local state = stat:match("^%d+ %b() (%a)")
  return state ~= "Z" and state ~= "X"
end

function M.commit(tmp, path)
  if C.rename(tmp, path) ~= 0 then
    local err = M.errstr()
    C.unlink(tmp)
    require("pixjit.core").raise(path .. ": cannot rename into place: " .. err, 0)
  end
end

M.C = C
return M
