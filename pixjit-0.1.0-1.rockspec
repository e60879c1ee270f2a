-- `luarocks make` from a checkout builds with the Makefile and installs
-- the modules, libpixjit.so beside the tree's C modules (where
-- pixjit.core looks for it) and the pixjit host.
rockspec_format = "3.0"
package = "pixjit"
version = "0.1.0-1"
source = {
  url = "pixjit-0.1.0.tar.gz",
  dir = "pixjit-0.1.0",
}
description = {
  summary = "Image preprocessing kernels for LuaJIT: codecs, main colours, perspective crops",
  detailed = [[
pixjit is a C image-preprocessing library with a LuaJIT FFI module: PNG,
JPEG, TIFF and WebP codecs, exact main-colour extraction, parallel
perspective crops of word quadrilaterals, resize, gray conversion,
thresholds and filters, on images Lua can read and write in place.
]],
}
supported_platforms = { "linux" }
dependencies = {
  "lua == 5.1", -- LuaJIT 2.1 (the module uses the FFI)
  "lua-cjson",
}
external_dependencies = {
  LUAJIT = { header = "luajit-2.1/luajit.h" },
  PNG = { header = "png.h" },
  JPEG = { header = "jpeglib.h" },
  DEFLATE = { header = "libdeflate.h" },
  TIFF = { library = "tiff" }, -- Debian keeps its headers in a multiarch folder
  WEBP = { header = "webp/decode.h" },
  ARCHIVE = { header = "archive.h" },
  EDIT = { header = "histedit.h" },
}
build = {
  type = "make",
  build_target = "lib",
  build_variables = {
    CC = "$(CC)",
  },
  install_target = "install-rock",
  install_variables = {
    LUADIR = "$(LUADIR)",
    LIBDIR = "$(LIBDIR)",
    BINDIR = "$(BINDIR)",
  },
}
