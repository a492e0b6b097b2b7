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

-- LuaTeX closes its Lua state after the PDF and the log are written, which
-- frees every Lua object one by one just before exit: in a resumed run each
-- of those frees copies a page of the image (about 90 ms for this showcase
-- against 32 ms in a full run).  wrapup_run comes after both files are
-- closed; pm_exiting() then keeps freed memory instead of giving it back.
if C and pcall(function() return C.pm_exiting end) then
  luatexbase.add_to_callback("wrapup_run", function() C.pm_exiting() end,
                             "pmimage.exiting")
end

-- Save the whole process to path.  Returns "saved", "resumed" or nil
-- and the reason.  A resumed process continues from here: TeX goes on
-- reading the document from the line after the one that called this.
function M.take(path)
  if not C then
    return nil, "no pmalloc (run: pmalloc run -- lualatex --shell-escape)"
  end
  local rc = C.pm_image(path)
  if rc == 1 then return "resumed" end
  if rc == 0 then return "saved" end
  return nil, ffi.string(C.pm_errmsg())
end

return M
