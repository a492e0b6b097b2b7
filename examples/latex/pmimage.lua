-- pmimage.lua - take a pmalloc process image from inside LuaTeX.
--
-- Loaded by pmimage.sty.  Needs lualatex --shell-escape (LuaTeX's ffi
-- is disabled otherwise) and the program running on pmalloc
-- (`pmalloc run -- lualatex ...`), whose library exports pm_image.
-- Without either, it says so in the log and the compile goes on.
local M = {}

local ok, ffi = pcall(require, "ffi")
local C
if ok and ffi then
  ok = pcall(ffi.cdef, [[
    int pm_image(const char *path);
    const char *pm_errmsg(void);
    void pm_exiting(void);
  ]])
  if ok then
    ok = pcall(function() return ffi.C.pm_image end)
    if ok then C = ffi.C end
  end
end

-- LuaTeX's end, after the PDF and the log are written: wrapup_run, then
-- do_final_end(), which closes the Lua state (lua_close frees every Lua
-- object one by one) and exits with 1 if an error was reported, else
-- with its default code.  In a resumed run the objects live in the
-- image's copy-on-write pages, and the walk costs 25-40 ms of a compile
-- that is 150 ms long: there a wrapup_run callback added at the resume
-- (after every one the preamble added) ends the process itself, with the
-- code do_final_end would use, by C's exit() (atexit handlers run, every
-- stdio stream is flushed, Lua's io files included); it only skips
-- lua_close and LuaTeX's frees of its code tables.  It does so only when
-- it is the last wrapup_run callback, and needs LuaTeX's exported
-- `history' and `defaultexitcode'.  Otherwise, and in runs that were not
-- resumed, pm_exiting() at least keeps the frees from copying pages: the
-- thread's later frees keep their memory.
local quit
if C then
  local ok_quit = pcall(ffi.cdef, [[
    extern int history;
    extern int defaultexitcode;
    void exit(int status);
  ]])
  if ok_quit and pcall(function() return C.history, C.defaultexitcode end) then
    quit = function()
      -- history: 0 spotless, 1 warning issued, 2 error, 3 fatal
      local code = C.history >= 2 and 1 or C.defaultexitcode
      io.stdout:flush()
      io.stderr:flush()
      C.exit(code)
    end
  end
end
if C and pcall(function() return C.pm_exiting end) then
  luatexbase.add_to_callback("wrapup_run", function() C.pm_exiting() end,
                             "pmimage.exiting")
end

-- What the preamble read and closed, which pmalloc cannot see (it checks
-- the files still open, such as the document itself): the files LaTeX
-- loaded (its \@filelist: class, packages, their .def/.cfg/.fd files,
-- \input files; found again through kpathsea) and the font files of
-- every font loaded, each with its size and modification time.  The time
-- is in whole seconds (LuaTeX's lfs): a file written in the second of the
-- image or later could be changed again within that second, keeping its
-- size and time, so such a file is also checked by its contents (md5).
local function digest(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s and md5.sumhexa(s)
end

local function inputs()
  local list, seen = {}, {}
  local now = math.floor(os.gettimeofday())
  local function add(path)
    if path and not seen[path] then
      local a = lfs.attributes(path)
      if a and a.mode == "file" then
        seen[path] = true
        local sum = a.modification >= now and digest(path) or nil
        list[#list + 1] = { path, a.size, a.modification, sum }
      end
    end
  end
  for name in string.gmatch(token.get_macro("@filelist") or "", "[^,]+") do
    add(kpse.find_file(name, "tex") or kpse.find_file(name))
  end
  for _, f in font.each() do
    local name = f.filename
    if name and not name:find("^/") then name = kpse.find_file(name) end
    add(name)
  end
  return list
end

-- The first of those files changed since the image was taken, or nil.
local function changed(list)
  for _, e in ipairs(list) do
    local a = lfs.attributes(e[1])
    if not a or a.size ~= e[2] or a.modification ~= e[3] or
       (e[4] and digest(e[1]) ~= e[4]) then
      return e[1]
    end
  end
end

-- A resumed run whose preamble read a file that changed since: the image
-- is stale, as if the preamble had been edited.  The run starts again as a
-- full compile, by executing the same command line (without
-- PMALLOC_RESUME, which the image's environment may hold when it was
-- saved by a compile whose own resume was refused); that compile saves a
-- fresh image.
local function restart(why)
  texio.write_nl("term and log", "pmimage: stale image: " .. why ..
                 " changed since it was saved; compiling in full")
  texio.write_nl("term", "")
  io.stdout:flush()
  os.setenv("PMALLOC_RESUME", nil)
  -- TeX's open files (the document, the log...) would be passed on to the
  -- new compile, whose image would then take them for inputs its caller
  -- gave it, and every later resume would be refused
  pcall(ffi.cdef, "int close(int fd);")
  local ok, close = pcall(function() return C.close end)
  if ok then
    local fds = {}
    for name in lfs.dir("/proc/self/fd") do
      local fd = tonumber(name)
      local a = fd and fd > 2 and lfs.attributes("/proc/self/fd/" .. name)
      if a and a.mode == "file" then fds[#fds + 1] = fd end
    end
    for _, fd in ipairs(fds) do close(fd) end
  end
  local argv = { [0] = arg[0], arg[0] }
  for i = 1, #arg do argv[#argv + 1] = arg[i] end
  os.exec(argv)
  -- still here: going on would typeset with the stale preamble
  texio.write_nl("term and log", "pmimage: cannot run " .. tostring(arg[0]) ..
                 " again; stopping")
  texio.write_nl("term", "")
  io.stdout:flush()
  os.exit(1)
end

-- Save the whole process to path.  Returns "saved", "resumed" or nil
-- and the reason.  A resumed process continues from here: TeX goes on
-- reading the document from the line after the one that called this.
function M.take(path)
  if not C then
    return nil, "no pmalloc (run: pmalloc run -- lualatex --shell-escape)"
  end
  local deps = inputs()
  local rc = C.pm_image(path)
  if rc == 1 then
    local why = changed(deps)
    if why then return restart(why) end
    if quit then
      luatexbase.add_to_callback("wrapup_run", function()
        local d = luatexbase.callback_descriptions("wrapup_run")
        if d[#d] == "pmimage.exit" then quit() end
      end, "pmimage.exit")
    end
    return "resumed"
  end
  if rc == 0 then return "saved" end
  return nil, ffi.string(C.pm_errmsg())
end

return M
